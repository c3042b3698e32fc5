-- PostgreSQL: result bundles keyed by (client, bundle_id)
-- (../0009_result_bundles_by_client.sql).
ALTER TABLE result_bundles DROP CONSTRAINT result_bundles_pkey;
ALTER TABLE result_bundles ADD PRIMARY KEY (client, bundle_id);
