-- A contact's conversations in creation order: the quality rollups' "next contact after this
-- resolution" (first-contact resolution, repeat contacts) is one index probe per conversation.
-- On PostgreSQL, without it, the planner answered MIN(created_at) by walking the creation-time
-- index and filtering on the contact: a full scan per conversation at 10 million messages.
CREATE INDEX conversations_contact_created ON conversations (contact_id, created_at);
