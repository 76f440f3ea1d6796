"""Importing the dashboard's manager needs no web framework: Starlette, uvicorn and
prometheus_client load only with the web app."""

from __future__ import annotations

import subprocess
import sys


def test_the_manager_imports_without_the_web_stack() -> None:
    code = (
        "import sys, ml_ops.dashboard as d; d.DashboardManager; "
        "assert not {'starlette', 'uvicorn', 'prometheus_client'} & set(sys.modules), "
        "sorted({'starlette', 'uvicorn', 'prometheus_client'} & set(sys.modules)); "
        "d.create_app; assert 'starlette' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
