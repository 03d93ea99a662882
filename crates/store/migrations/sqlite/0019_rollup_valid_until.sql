-- When a stored day's sums change with time alone (issue 10): the first breach of an SLA clock
-- that was still running when the day was computed (NULL: none, the day changes only when its
-- rows do). The rollup job recomputes a day once this has passed, instead of recomputing the
-- last days every round. Set on the whole-day row (dim = '').
ALTER TABLE quality_rollups ADD COLUMN valid_until INTEGER;
CREATE INDEX quality_rollups_due ON quality_rollups (tz, valid_until) WHERE dim = '' AND valid_until IS NOT NULL;
-- Days stored before this was kept are due now: the job recomputes them (a round's share at a time).
UPDATE quality_rollups SET valid_until = computed_at WHERE dim = '';
