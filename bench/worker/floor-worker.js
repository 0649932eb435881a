// The floor: a bare worker on the same runtime. With UPSTREAM set it passes the request through to it
// (the LLM proxy's floor); without, it answers a small JSON body (the auth benchmark's floor).
export default {
  async fetch(request, env) {
    if (env.UPSTREAM) {
      const url = new URL(request.url);
      return fetch(new Request(env.UPSTREAM + url.pathname + url.search, request));
    }
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
};
