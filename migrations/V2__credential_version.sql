-- Every change to what signs a user in (password, disabling, later second factors) bumps
-- this number in the transaction that revokes the user's sessions. A sign-in creates its
-- session only while the number it read beside the password hash is still current, holding
-- the row against a concurrent change (store/sessions.rs `create`): a sign-in that checked
-- the old credentials cannot outlive the change.
ALTER TABLE users ADD COLUMN credential_version bigint NOT NULL DEFAULT 0;
