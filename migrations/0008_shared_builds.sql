-- A build's identity in the team store (builds/shared.rs): what its signed record says it
-- is, so that `axle store push` can share builds made before a team store was named. NULL:
-- a build that is never shared (a project directory, an editable, no build isolation).
ALTER TABLE built_wheels ADD COLUMN shared_identity TEXT;
