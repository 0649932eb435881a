-- Request monitoring (docs/monitoring.md): answers that are a route's normal protocol outcome although their
-- status is 4xx (the runner's cancel-wait 409 lease_lost when its job ends, the lease's 409
-- capabilities_required). Counted in their status class as before, and here too, so error rates leave them out.
-- tenant_id now also holds caller labels for requests without a tenant: '(unauthenticated)' (refused at
-- authentication, 401), '(admin)' (admin token), '(runner)' (runner token); '' is a request with no credential
-- that was not refused (public routes, unmatched paths).
ALTER TABLE request_stats ADD COLUMN status_expected INTEGER NOT NULL DEFAULT 0;
