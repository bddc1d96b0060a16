-- Users and their sessions (CONTRACT §2). Revoked sessions stay for audit until pruned.
CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    username           text NOT NULL,
    -- NFKC + lower case, computed by the gateway: uniqueness ignores case.
    username_canonical text NOT NULL UNIQUE,
    password_hash      text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    disabled_at        timestamptz
);

CREATE TABLE sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at         timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    revoked_reason     text,
    ip                 inet,
    user_agent         text CHECK (char_length(user_agent) <= 512),
    refresh_gen        bigint NOT NULL DEFAULT 0,
    refresh_rotated_at timestamptz
);

CREATE INDEX sessions_user_active ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE auth_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    user_id    uuid,
    session_id uuid,
    ip         inet,
    detail     text
);

CREATE INDEX auth_events_user ON auth_events (user_id, at DESC);
