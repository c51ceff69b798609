"""The secret key is generated once in the data dir, even when several processes start
together on a fresh one (web and workers of `planblanc demo`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_it_gives_every_process_started_together_the_same_key(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PLANBLANC_SECRET_KEY"}
    env["PLANBLANC_DATA_DIR"] = str(tmp_path)
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", f"import os; os.environ['DJANGO_SETTINGS_MODULE']='planblanc.settings'; {code}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(8)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in results]
    keys = {out.strip() for out, _ in results}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert [path.name for path in tmp_path.iterdir() if "secret" in path.name] == ["secret_key"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
