-- Groups and memberships (CONTRACT §9). Names are checked by the gateway too
-- (store/groups.rs `valid_name`); the CHECK keeps a hand-written INSERT honest.
CREATE TABLE groups (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9._-]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_groups (
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

-- The primary key serves "groups of a user"; this serves "members of a group".
CREATE INDEX user_groups_group ON user_groups (group_id);
