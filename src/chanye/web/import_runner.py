"""The process a web import runs in: ``python -m chanye.web.import_runner JOB_ID``.

Started by ``ImportJobs.start`` with the server's settings in its environment. It starts from
the composition root (``chanye.root``) and runs the same import as ``chanye registry import``,
whose ``RegistryChanged`` re-matches the published policies, writing progress to the job's row
(``chanye.registry.jobs``). Out of the server process, a file that takes minutes or gigabytes to
read costs this process only, and any web worker can show the progress.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from chanye.config import Settings
from chanye.registry.housekeeping import discard_refused_upload
from chanye.registry.importer import import_file
from chanye.registry.jobs import ProgressWriter, job_actor
from chanye.registry.storage import RegistryBusyError
from chanye.root import start
from chanye.store.database import session_scope
from chanye.store.models import ImportJobRecord
from chanye.web.wording import chinese


def run(settings: Settings, job_id: str) -> None:
    context = start(settings, migrate=False).registry()
    with session_scope(context.database_url) as session:
        row = session.get_one(ImportJobRecord, job_id)
        path, strict, actor = Path(row.stored_path), row.strict, job_actor(row)
    progress = ProgressWriter(context.database_url, job_id)
    result = None
    try:
        result = import_file(
            context.database_url,
            context.paths,
            context.system,
            path,
            actor,
            strict=strict,
            progress=progress,
            limits=context.limits,
        )
    except RegistryBusyError as exc:
        progress.finish(error=str(exc))
    except Exception as exc:  # shown to the user; the import itself changed nothing
        progress.finish(error=f"导入失败：{chinese(exc)}")
    else:
        progress.finish(outcome=dataclasses.asdict(result))
    finally:
        discard_refused_upload(path, result.status if result else None)
        context.tidy()


def main() -> int:
    run(Settings(), sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
