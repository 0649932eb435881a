export default {
  async queue(batch: MessageBatch<unknown>, _env: ConsumerEnv): Promise<void> {
    for (const m of batch.messages) m.ack();
  },
} satisfies ExportedHandler<ConsumerEnv>;
