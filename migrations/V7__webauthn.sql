-- WebAuthn credentials (passkeys, security keys) and the state of ceremonies in flight
-- (CONTRACT §10). One more factor table beside mfa_totp, as V5 planned.

-- One row per credential. `passkey` is the credential as webauthn-rs serialises it (public key,
-- credential id, counter, backup flags): the library reads it back as it wrote it. `counter`
-- is the signature counter kept beside it so that a use is taken only by
-- `UPDATE … WHERE counter < $new` (or both zero: passkeys that keep no counter), whichever
-- instance asks; a counter that does not move forward is a cloned authenticator and refused.
-- `credential_id` is the authenticator's own id, unique across users: the passwordless
-- sign-in finds the credential by it.
CREATE TABLE webauthn_credentials (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id bytea NOT NULL UNIQUE CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    passkey       jsonb NOT NULL,
    counter       bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);

CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- A ceremony begun (options sent to the browser) and not yet finished: the library's state,
-- found again by its challenge, which the authenticator's response carries in clientDataJSON.
-- Kept here, not in memory, so that the finish may reach another instance than the start.
-- Single use: a finish deletes the row it reads. `purpose` is what it may finish: `register`
-- and `step_up` are bound to a signed-in user, `sign_in` to a pending sign-in (and ends with
-- it), `passkey` (the passwordless sign-in) to nobody: the credential names its user.
CREATE TABLE webauthn_ceremonies (
    challenge  bytea PRIMARY KEY CHECK (octet_length(challenge) BETWEEN 16 AND 64),
    purpose    text NOT NULL CHECK (purpose IN ('register', 'step_up', 'sign_in', 'passkey')),
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    pending_id uuid REFERENCES mfa_pending (id) ON DELETE CASCADE,
    state      jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK ((purpose = 'passkey') = (user_id IS NULL)),
    CHECK ((purpose = 'sign_in') = (pending_id IS NOT NULL))
);

CREATE INDEX webauthn_ceremonies_user ON webauthn_ceremonies (user_id);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
