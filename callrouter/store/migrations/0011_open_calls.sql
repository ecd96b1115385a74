-- What a router reads at start (queries.CLOSE_LOST): its node's calls with no end yet,
-- begun before it started. Without this index that read every call ever made (0.3 s at
-- 3 million narrow rows, a few seconds past a year of a busy centre's calls: past the
-- statements' 5 s timeout, so a restart would leave the lost calls of the router
-- before open for good).
CREATE INDEX calls_open_node ON calls (node, started_at) WHERE ended_at IS NULL;
