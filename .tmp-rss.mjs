for (const w of process.argv.slice(2)) await import(w);
setTimeout(() => {
  globalThis.gc();
  setTimeout(() => {
    const m = process.memoryUsage();
    console.log(
      process.argv.slice(2).join("+") || "bare",
      (m.rss / 1e6).toFixed(1),
      "heap",
      (m.heapUsed / 1e6).toFixed(1),
      "ext",
      (m.external / 1e6).toFixed(1),
    );
    process.exit(0);
  }, 200);
}, 2000);
