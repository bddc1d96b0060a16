-- The name a sign-in attempt gave, as typed (bounded by the gateway), kept beside user_id: an
-- attempt for a user who does not exist has no user_id, and guesses at names are what an
-- administrator reading the audit record wants to see. Nullable, so a binary still on V4
-- keeps writing events while the new one rolls out.
ALTER TABLE auth_events ADD COLUMN username text;
