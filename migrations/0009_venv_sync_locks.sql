-- The lock files each venv was last synced from (JSON list of absolute paths), whoever synced
-- it: `axle env list` and the status page compare every venv with its own last sync's locks,
-- not only the venv a project directory synced last. Venvs synced before this column existed
-- take their project's locks where a project's last sync was into them; the others stay '[]'
-- (no locks on record) until their next sync.
ALTER TABLE venv_sync ADD COLUMN lock_files_json TEXT NOT NULL DEFAULT '[]';

UPDATE venv_sync
SET lock_files_json = (
    SELECT projects.lock_files_json FROM projects
    WHERE projects.venv = venv_sync.venv
    ORDER BY projects.synced_at DESC
    LIMIT 1
)
WHERE EXISTS (SELECT 1 FROM projects WHERE projects.venv = venv_sync.venv);
