-- Second factors (CONTRACT §10). Every factor is a row of its own kind keyed by user, so a
-- later kind (WebAuthn credentials: a `webauthn_credentials` table, one row per credential) is
-- one more table and one more clause in store/mfa.rs `HAS_FACTOR`, not a change to these.

-- One authenticator app per user. `confirmed_at` NULL: enrolment pending (the secret was shown,
-- no code has proved it yet); it is no factor, and a new enrolment replaces it. `last_step` is
-- the last RFC 6238 time step accepted for the user: a code is taken only by
-- `UPDATE … WHERE last_step < $step`, so each step signs in once, whichever instance asks.
-- The secret is stored as it is (an HMAC key cannot be hashed); see the README's security model.
CREATE TABLE mfa_totp (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       bytea NOT NULL CHECK (octet_length(secret) >= 16),
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    last_used_at timestamptz
);

-- Recovery codes: SHA-256 of a per-code salt and the code, never the code. A code is spent by
-- `UPDATE … SET used_at WHERE used_at IS NULL`, so two requests cannot both spend it.
CREATE TABLE mfa_recovery_codes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    salt       bytea NOT NULL CHECK (octet_length(salt) = 16),
    hash       bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

-- Pending sign-ins: the password was right and the second step is outstanding. Kept here, not
-- in memory, so the second step may reach another instance than the first. Only the SHA-256 of
-- the token (the `mfa_pending` cookie or the `mfa_token`) is stored. `credential_version` is the
-- user's when the password was checked: a password change, a disable or `user mfa-reset` bumps
-- it (and deletes these rows first), so a sign-in that began before cannot finish after.
CREATE TABLE mfa_pending (
    id                 uuid PRIMARY KEY,
    token_hash         bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_version bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    failures           integer NOT NULL DEFAULT 0 CHECK (failures >= 0)
);

CREATE INDEX mfa_pending_user ON mfa_pending (user_id);
CREATE INDEX mfa_pending_expires ON mfa_pending (expires_at);

-- How a session was made: true when its sign-in (or a later step-up) used a second factor.
ALTER TABLE sessions ADD COLUMN mfa boolean NOT NULL DEFAULT false;
