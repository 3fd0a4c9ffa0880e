"""The agent as a Windows service, hosted by pywin32's pythonservice.exe (Windows only).

    python -m posplugin.winservice --startup auto install | start | stop | remove

``installer/windows/install.ps1`` registers it, runs it as the virtual account ``NT SERVICE\\posplugin`` and sets
its environment (``POSPLUGIN_CONFIG``, ``PYTHONPATH``). Stopping asks uvicorn to finish: in-flight Engage requests
complete or are left for reconciliation, exactly as on Ctrl-C.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import servicemanager
import win32event
import win32service
import win32serviceutil

SERVICE_NAME = "posplugin"
STOP_WAIT_MS = 90_000  # a redemption in flight may wait up to 75 s for Engage


def config_path() -> Path:
    configured = os.environ.get("POSPLUGIN_CONFIG")
    if configured:
        return Path(configured)
    return Path(os.environ.get("ProgramData", r"C:\ProgramData")) / "posplugin" / "config.toml"


class PospluginService(win32serviceutil.ServiceFramework):
    _svc_name_ = SERVICE_NAME
    _svc_display_name_ = "posplugin till-side loyalty agent"
    _svc_description_ = "Voyado Engage loyalty at the till: members, vouchers, points, receipts (127.0.0.1 only)."

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._stopped = win32event.CreateEvent(None, 0, 0, None)
        self._server: Any = None

    def SvcStop(self) -> None:
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_MS)
        if self._server is not None:
            self._server.should_exit = True
        win32event.SetEvent(self._stopped)

    def SvcDoRun(self) -> None:
        from .cli import prepare_server

        path = config_path()
        servicemanager.LogInfoMsg(f"posplugin starting with {path}")
        try:
            self._server = prepare_server(path, save_to=path)
            self._server.run()
        except Exception as exc:  # the event log is where IT looks when a service does not start
            servicemanager.LogErrorMsg(f"posplugin stopped: {type(exc).__name__}: {exc}")
            raise


def main() -> None:
    win32serviceutil.HandleCommandLine(PospluginService)


if __name__ == "__main__":
    main()
