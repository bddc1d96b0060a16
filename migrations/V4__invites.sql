-- Invites (CONTRACT §9): a sign-up link the administrator hands out. Only the SHA-256 of its
-- token is kept, so this table cannot be read back into working links. A sign-up consumes a
-- use with one conditional UPDATE in the transaction that creates the user
-- (store/signup.rs), so concurrent sign-ups never spend more uses than there are.
CREATE TABLE invites (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    -- Names, not ids: the list is shown back as written, and checked again at sign-up.
    groups      text[] NOT NULL DEFAULT '{}',
    max_uses    integer NOT NULL CHECK (max_uses > 0),
    uses_left   integer NOT NULL CHECK (uses_left >= 0 AND uses_left <= max_uses),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    -- Who ran `invite create` (the operating-system user), when known.
    created_by  text
);
