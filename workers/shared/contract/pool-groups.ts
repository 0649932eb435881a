/** Pool groups (docs/capabilities.md "Regions and failover"): admin API shapes. */
import { z } from "zod";
import { PoolName } from "./common.ts";

export const PoolGroupMember = z
  .object({
    pool: PoolName,
    region: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .nullish()
      .describe("Where the pool runs (e.g. eu-west, us-east, or a colo code); null = the pool's own region"),
    weight: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("Breaks ties between equally near members (higher first; default 1)"),
  })
  .strict();
export type PoolGroupMember = z.infer<typeof PoolGroupMember>;

export const PoolGroupCreate = z
  .object({
    name: PoolName,
    members: z
      .array(PoolGroupMember)
      .min(1)
      .max(16)
      .superRefine((members, ctx) => {
        const seen = new Map<string, number>();
        members.forEach((m, i) => {
          const first = seen.get(m.pool);
          if (first !== undefined)
            ctx.addIssue({
              code: "custom",
              path: [i, "pool"],
              message: `pool '${m.pool}' is listed twice (members[${first}] and members[${i}])`,
            });
          seen.set(m.pool, i);
        });
      }),
    max_wait_s: z
      .number()
      .min(0)
      .max(86_400)
      .nullish()
      .describe("Fail over from a member whose estimated wait is above this many seconds; null = no threshold"),
  })
  .strict();
export type PoolGroupCreate = z.infer<typeof PoolGroupCreate>;

export const PoolGroupPatch = PoolGroupCreate.omit({ name: true }).partial().strict();
export type PoolGroupPatch = z.infer<typeof PoolGroupPatch>;

export const PoolGroup = z
  .object({
    name: z.string(),
    members: z.array(z.object({ pool: z.string(), region: z.string().nullable(), weight: z.int() })),
    max_wait_s: z.number().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: "PoolGroup" });
export type PoolGroup = z.infer<typeof PoolGroup>;
