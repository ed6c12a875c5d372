"""A simulated Windows developer machine that answers the shipped collectors as a real one would.

``MirroredWindowsModel`` plugs into the WinRS server (``auditor.lab.winrs``). It recognises the
shipped collector scripts by their text (``recognize.windows_collector``) and answers each with the
JSON document the real PowerShell script prints for the host's ``WindowsState``, and the one-liners of
``windows_oneliners`` (a playbook's task per fact) with those facts; any other script
goes to the base model's tiny PowerShell (hostname, whoami, ipconfig, echo; unknown commands get
Windows' "is not recognized" error and rc 1).

The simulated WSL follows docs/research/domain.md 1.2 and 8: the user's `.wslconfig` is parsed the way WSL parses
it, policy and OS support are applied when the VM starts, and WSL's warnings land in the event log.
The conflict rule: when Docker Desktop's owner runs a mirrored VM and Docker Desktop uses the WSL2
engine, published ports get NO Windows listener from com.docker.backend (the port is reserved for the
VM); otherwise (NAT, Hyper-V backend, or the port in ``experimental.ignoredPorts``) it listens.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from auditor.lab.models import dockerjson as dj
from auditor.lab.models import wsl_rules
from auditor.lab.models.recognize import windows_collector
from auditor.lab.models.remediation import apply_remediation, is_remediation
from auditor.lab.models.windows_oneliners import one_liner
from auditor.lab.models.windows_state import LAB_EPOCH, Container, DockerDesktop, Listener, UserProfile, WindowsState, ts
from auditor.lab.winrs.model import CommandOutcome, WindowsHostModel

DISPLAY_VERSIONS = {19045: "22H2", 22000: "21H2", 22621: "22H2", 22631: "23H2", 26100: "24H2", 26200: "25H2"}
PIPE_DENIED = ("error during connect: this error may indicate that the docker daemon is not running: Get "
               "\"http://%2F%2F.%2Fpipe%2FdockerDesktopLinuxEngine/v1.51/version\": open "
               "//./pipe/dockerDesktopLinuxEngine: Access is denied.")
PIPE_MISSING = ("error during connect: this error may indicate that the docker daemon is not running: Get "
                "\"http://%2F%2F.%2Fpipe%2FdockerDesktopLinuxEngine/v1.51/version\": open "
                "//./pipe/dockerDesktopLinuxEngine: The system cannot find the file specified.")
NAT_ADDR = "172.30.98.229"


def ps_json(value: Any) -> str:
    """``ConvertTo-Json -Compress`` of Windows PowerShell 5.1 (JavaScriptSerializer escapes ' < > &)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("'", "\\u0027"))


class MirroredWindowsModel(WindowsHostModel):
    """Answers windows_audit.ps1, windows_user_context.ps1 and windows_probe.ps1 from ``self.state``."""

    def __init__(self, state: WindowsState, user: str = "auditor"):
        super().__init__(hostname=state.hostname, user=user, domain=state.hostname, ipv4=state.primary_ipv4)
        self.state = state
        self.os_build = f"10.0.{state.build}"
        #: what the opt-in collectors did, newest last (tests check that the probe cleaned up)
        self.actions: list[str] = []
        dd = state.docker
        for u in state.users:  # Docker Desktop on WSL2 keeps its owner's VM up; it started with DD
            if dd is not None and dd.owner == u.name and dd.backend == "wsl2" and u.vm_started is None:
                self.start_vm(u, dd.started - timedelta(seconds=5), u.config_at(dd.started - timedelta(seconds=5)))
            elif u.vm_started is not None and u.vm_mode is None:
                started, u.vm_started = u.vm_started, None
                self.start_vm(u, started, u.config_at(started))

    # --- dispatch -------------------------------------------------------------------------------

    def run_collector(self, name: str, script: str) -> CommandOutcome:
        if is_remediation(script):  # `auditor remediate` steps change self.state (auditor/lab/models/remediation.py)
            return apply_remediation(self, script)
        kind = windows_collector(script)
        if kind == "audit":
            return self._json(self.audit_document())
        if kind == "user_context":
            return self._json(self.user_context())
        if kind == "probe":
            return self._json(self.probe())
        known = one_liner(script)  # what an ansible user's playbook sends, a task per fact
        if known is not None:
            return known.answer(self)
        return super().run_collector(name, script)

    def run_powershell(self, script: str) -> CommandOutcome:
        if windows_collector(script) is not None or one_liner(script) is not None:  # sent on its own, not in a batch
            return self.run_collector("", script)
        return super().run_powershell(script)

    @staticmethod
    def _json(doc: Any) -> CommandOutcome:
        return CommandOutcome((ps_json(doc) + "\r\n").encode("utf-8"))

    # --- the simulated WSL ------------------------------------------------------------------------

    def machine(self) -> wsl_rules.Machine:
        s = self.state
        return wsl_rules.Machine(s.build, s.ubr, s.installation_type, s.ipv6_disabled_components, s.wsl_msi_version,
                                 dict(s.wsl_policy))

    def effective(self, user: UserProfile, data: bytes | None = None) -> tuple[str | None, list[int], list[str]]:
        """(mode a VM started now would run in - None when WSL cannot start one -, ignoredPorts, warnings WSL logs),
        decided by the lab's own WSL rules (auditor/lab/models/wsl_rules.py) from the file's bytes."""
        if data is None:
            data = None if user.wslconfig_error else user.wslconfig
        return wsl_rules.start_mode(data, self.machine())

    def start_vm(self, user: UserProfile, at: datetime | None = None, data: bytes | None = None) -> None:
        """The user's VM starts: it takes the config (``data``, default the current file), and WSL logs its warnings.
        With WSL disabled by policy no VM starts."""
        if user.vm_started is not None:
            return
        at = at or LAB_EPOCH
        mode, ports, warnings = self.effective(user, data)
        if mode is None:
            return
        user.vm_started, user.vm_mode, user.vm_ignored_ports = at, mode, ports
        user.wsl_event_log.extend((at, w) for w in warnings)

    def shutdown_vm(self, user: UserProfile) -> None:
        """``wsl --shutdown`` run AS that user: the VM stops (the next start re-reads .wslconfig)."""
        user.vm_started, user.vm_mode, user.vm_ignored_ports = None, None, []

    def write_wslconfig(self, user: UserProfile, data: bytes | None, at: datetime | None = None) -> None:
        user.wslconfig = data
        user.wslconfig_mtime = at or LAB_EPOCH

    def running_mode(self, user: UserProfile) -> str | None:
        return user.vm_mode if user.vm_started is not None else None

    # --- Docker Desktop ---------------------------------------------------------------------------

    def docker_owner(self) -> UserProfile | None:
        dd = self.state.docker
        return self.state.user(dd.owner) if dd is not None else None

    def docker_running(self) -> bool:
        """Docker Desktop runs and its engine is up (on WSL2 it needs its owner's WSL VM)."""
        dd, owner = self.state.docker, self.docker_owner()
        if dd is None or owner is None:
            return False
        return dd.backend != "wsl2" or owner.vm_started is not None

    def port_reserved_by_wsl(self, port: int) -> bool:
        """True when the owner's mirrored VM takes the port away from com.docker.backend."""
        dd, owner = self.state.docker, self.docker_owner()
        if dd is None or owner is None or dd.backend != "wsl2":
            return False
        if self.running_mode(owner) != "mirrored":
            return False
        return port not in owner.vm_ignored_ports

    def docker_listeners(self) -> list[Listener]:
        dd = self.state.docker
        if dd is None or not self.docker_running():
            return []
        out = []
        for c in dd.containers:
            if not c.running:
                continue
            for host_ip, host_port, _cport, proto in c.ports:
                if proto != "tcp" or self.port_reserved_by_wsl(host_port) or host_port in dd.unforwarded_ports:
                    continue
                out.append(Listener(host_port, "com.docker.backend", host_ip, self.pid("com.docker.backend")))
        return out

    def pid(self, name: str) -> int:
        return 1000 + int(hashlib.sha256(f"{self.state.hostname}/{name}".encode()).hexdigest()[:6], 16) % 30000

    def _ps_rows(self) -> list[dj.PsRow]:
        dd = self.state.docker
        assert dd is not None
        return [dj.PsRow(c.id or dj.container_id(self.state.hostname, c.name), c.name, c.image, c.created, LAB_EPOCH,
                         c.ports, c.labels, c.network_mode, ip="172.17.0.2", gateway="172.17.0.1")
                for c in dd.containers if c.running]

    def docker_cli(self) -> dict[str, Any]:
        """The ``docker`` member: what docker.exe said over the dockerDesktopLinuxEngine pipe."""
        dd = self.state.docker
        out: dict[str, Any] = {"Reachable": False, "Error": None, "Version": None, "Info": None, "Ps": None, "Inspect": None}
        if dd is None:
            out["Error"] = "docker.exe not found"
            return out
        client = dj.version_doc(dd.engine_version, None, "default", "windows")
        if not self.docker_running() or dd.pipe != "ok":
            out["Version"] = dj.go_json(client) + "\n"
            out["Error"] = PIPE_MISSING if not self.docker_running() else PIPE_DENIED
            return out
        kernel = dd.kernel if dd.backend == "wsl2" else "6.10.14-linuxkit"
        platform = f"Docker Desktop {dd.version} ({dd.build})"
        client["Server"] = dj.server_doc(platform, dd.engine_version, kernel)
        rows = self._ps_rows()
        out["Reachable"] = True
        out["Version"] = dj.go_json(client) + "\n"
        out["Info"] = dj.go_json(dj.info_doc("docker-desktop", "Docker Desktop", kernel, dd.engine_version, len(rows),
                                             ["com.docker.desktop.address=npipe://\\\\.\\pipe\\docker_cli"])) + "\n"
        out["Ps"] = "".join(dj.ps_line(r) + "\n" for r in rows)
        out["Inspect"] = dj.inspect_text(rows) if rows else None
        return out

    # --- windows_audit.ps1 --------------------------------------------------------------------------

    def _many(self, rows: list[Any]) -> Any:
        """PS 5.1: a pipeline yielding one object serialises it bare, not as a one-element array."""
        if self.state.ps51_unwrap and len(rows) == 1:
            return rows[0]
        return rows

    def _profile(self, u: UserProfile) -> dict[str, Any]:
        wc: dict[str, Any] | None = None
        if u.wslconfig_error:
            wc = {"Error": u.wslconfig_error}
        elif u.wslconfig is not None:
            wc = {"LastWriteUtc": ts(u.wslconfig_mtime), "Length": len(u.wslconfig),
                  "Base64": base64.b64encode(u.wslconfig[:65536]).decode()}
        settings = [{"LastWriteUtc": ts(u.docker_settings_mtime), "Length": len(data),
                     "Base64": base64.b64encode(data).decode(), "Name": name}
                    for name, data in sorted(u.docker_settings.items(), key=lambda kv: kv[0] != "settings-store.json")]
        variants = ([".wslconfig"] if u.wslconfig is not None else []) + list(u.variants)
        distros = []
        if u.loaded:
            for i, d in enumerate(u.distros):
                guid = "{" + str(hashlib.md5(f"{u.name}/{d}".encode()).hexdigest()) + "}"
                guid = f"{{{guid[1:9]}-{guid[9:13]}-{guid[13:17]}-{guid[17:21]}-{guid[21:33]}}}"
                distros.append({"Id": guid, "Name": d, "Flags": 15, "BasePath": f"{u.path}\\AppData\\Local\\Packages\\{d}\\LocalState"
                                if not d.startswith("docker-desktop") else f"{u.path}\\AppData\\Local\\Docker\\wsl\\main"})
        dd = self.state.docker
        uninstall = None
        if dd is not None and dd.per_user_install and dd.owner and dd.owner.lower() == u.name.lower() and u.loaded:
            uninstall = {"DisplayVersion": dd.version, "InstallLocation": dd.install_location}
        backup = None
        if u.wslconfig_backup is not None:
            name, data, mtime = u.wslconfig_backup
            backup = {"LastWriteUtc": ts(mtime), "Length": len(data), "Base64": base64.b64encode(data[:65536]).decode(), "Name": name}
        return {"SID": f"{self.state.machine_sid}-{u.rid}", "Account": u.account, "LocalPath": u.path, "Loaded": u.loaded,
                "LastUseUtc": ts(LAB_EPOCH - timedelta(minutes=5) if u.loaded else LAB_EPOCH - timedelta(days=20)),
                "WslConfig": wc, "WslConfigBackup": backup, "Variants": variants, "DockerSettings": settings,
                "LxssDefault": distros[0]["Id"] if distros and u.loaded else None,
                "LxssDistros": distros, "DockerUninstall": uninstall}

    def _admin_profile(self) -> UserProfile:
        return UserProfile(self.user, domain=self.state.hostname, rid=500, logged_on=False, loaded=True)

    def processes(self) -> list[dict[str, Any]]:
        s, rows = self.state, []

        def add(name: str, user: str | None, start: datetime | None, path: str | None) -> None:
            rows.append({"Name": name, "Id": self.pid(name + (user or "")), "UserName": user, "StartUtc": ts(start), "Path": path})

        dd = s.docker
        owner = self.docker_owner()
        if dd is not None and owner is not None:
            add("Docker Desktop", owner.account, dd.started, f"{dd.install_location}\\Docker Desktop.exe")
            add("com.docker.backend", owner.account, dd.started + timedelta(seconds=2),
                f"{dd.install_location}\\resources\\com.docker.backend.exe")
            add("com.docker.build", owner.account, dd.started + timedelta(seconds=3),
                f"{dd.install_location}\\resources\\com.docker.build.exe")
        if s.wsl_msi_version:
            add("wslservice", "NT AUTHORITY\\SYSTEM", s.boot + timedelta(seconds=40), "C:\\Program Files\\WSL\\wslservice.exe")
        for u in s.users:
            for name in u.processes:
                add(name, u.account, s.boot + timedelta(minutes=10), None)
            if u.vm_started is not None:
                add("vmmemWSL", None, u.vm_started, None)
                if u.vm_mode == "nat":
                    add("wslrelay", u.account, u.vm_started + timedelta(seconds=1), "C:\\Program Files\\WSL\\wslrelay.exe")
        return rows

    def tcp_listen(self) -> list[dict[str, Any]]:
        base = [Listener(135, "svchost", "0.0.0.0", 1088), Listener(445, "System", "0.0.0.0", 4),
                Listener(5985, "System", "0.0.0.0", 4)]
        rows = []
        for lst in [*base, *self.state.listeners, *self.docker_listeners()]:
            if lst.udp:
                continue
            rows.append({"LocalAddress": lst.address, "LocalPort": lst.port, "OwningProcess": lst.pid or self.pid(lst.process),
                         "Process": lst.process, "State": "Listen"})
            if lst.process == "com.docker.backend" and lst.address == "0.0.0.0":
                rows.append({**rows[-1], "LocalAddress": "::"})
        return rows

    def udp(self) -> list[dict[str, Any]]:
        rows = [{"LocalAddress": "0.0.0.0", "LocalPort": 5353, "OwningProcess": 2212, "Process": "svchost"}]
        for lst in self.state.listeners:
            if lst.udp:
                rows.append({"LocalAddress": lst.address, "LocalPort": lst.port, "OwningProcess": lst.pid or self.pid(lst.process),
                             "Process": lst.process})
        return rows

    def wsl_events(self) -> list[dict[str, Any]]:
        events = list(self.state.events)
        for u in self.state.users:
            events.extend(u.wsl_event_log)
        events.sort(key=lambda e: e[0], reverse=True)  # Get-WinEvent: newest first
        return [{"TimeUtc": ts(t), "Id": 0, "Level": "Warning", "Message": m} for t, m in events[:200]]

    def wsl_version_bytes(self) -> tuple[int, bytes]:
        s = self.state
        if not s.wsl_msi_version:  # inbox wsl.exe: no --version
            return -1, "Invalid command line option: --version\r\n".encode("utf-16-le")
        lines = [f"WSL version: {s.wsl_msi_version}", f"Kernel version: {s.wsl_kernel}", "WSLg version: 1.0.66",
                 "MSRDC version: 1.2.6074", "Direct3D version: 1.611.1-81528511",
                 "DXCore version: 10.0.26100.1-240331-1435.ge-release", f"Windows version: 10.0.{s.build}.{s.ubr}"]
        return 0, ("\r\n".join(lines) + "\r\n").encode("utf-16-le")

    def audit_document(self) -> dict[str, Any]:
        s = self.state
        win11 = s.build >= 22000
        rc, wsl_bytes = self.wsl_version_bytes()
        dd = s.docker
        services = []
        if s.wsl_msi_version:
            services.append({"Name": "WSLService", "Status": "Running", "StartType": "Automatic"})
        services.append({"Name": "LxssManager", "Status": "Stopped", "StartType": "Manual"})
        profiles = [self._profile(u) for u in [self._admin_profile(), *s.users]]
        return {
            "schema": "wsl-docker-audit/1", "collectedUtc": ts(LAB_EPOCH), "host": s.hostname,
            "os": {"CurrentBuild": str(s.build), "UBR": s.ubr, "DisplayVersion": DISPLAY_VERSIONS.get(s.build, "22H2"),
                   "ProductName": "Windows 10 Pro" if s.edition == "Professional" else "Windows 10 Enterprise",
                   "EditionID": s.edition, "InstallationType": s.installation_type,
                   "Caption": f"Microsoft Windows {'11' if win11 else '10'} {'Pro' if s.edition == 'Professional' else 'Enterprise'}",
                   "EnvOSVersion": f"10.0.{s.build}.0", "Ipv6DisabledComponents": s.ipv6_disabled_components},
            "wsl": {"MsiVersion": s.wsl_msi_version,
                    "MsiInstallLocation": "C:\\Program Files\\WSL\\" if s.wsl_msi_version else None, "AppxVersion": None,
                    "Policy": {k: s.wsl_policy.get(k) for k in
                               ("DefaultNetworkingMode", "AllowNetworkingModeUserSetting", "AllowFirewallUserSetting",
                                "AllowWSL", "AllowInboxWSL")},
                    "Service": self._many(services)},
            "wslVersion": {"ExitCode": rc, "Base64": base64.b64encode(wsl_bytes).decode()},
            "profiles": profiles,
            "dockerDesktop": {
                "UninstallHKLM": ({"DisplayVersion": dd.version, "InstallLocation": dd.install_location}
                                  if dd is not None and not dd.per_user_install else None),
                "AdminSettingsBase64": base64.b64encode(dd.admin_settings).decode() if dd and dd.admin_settings else None},
            "docker": self.docker_cli(),
            "processes": self._many(self.processes()),
            "tcpListen": self._many(self.tcp_listen()),
            "udp": self._many(self.udp()),
            "wslEvents": self._many(self.wsl_events()),
            "hypervFirewall": ({"Enabled": "True", "DefaultInboundAction": "Block", "DefaultOutboundAction": "Allow",
                                "LoopbackEnabled": "True"} if s.build >= 22621 and s.wsl_msi_version else None),
            "primaryIPv4": s.primary_ipv4,
        }

    # --- windows_user_context.ps1 (opt-in) ----------------------------------------------------------

    def user_context(self) -> dict[str, Any]:
        s = self.state
        res: dict[str, Any] = {"User": None, "Method": "scheduled-task", "TaskName": None, "Ran": False, "TaskResult": None,
                               "OutputBase64": None, "Error": None, "Actions": [],
                               "Cleanup": {"TaskRemoved": None, "FileRemoved": None}}
        user = self.docker_owner() or next((u for u in s.users if u.logged_on), None)
        if user is None:
            res["Error"] = "no interactive developer session found (no Docker Desktop or explorer process)"
            return res
        task = "auditor-wsl-" + hashlib.sha256(f"{s.hostname}{len(self.actions)}".encode()).hexdigest()[:8]
        res.update(User=user.account, TaskName=task)
        stamp = ts(LAB_EPOCH)
        res["Actions"] = [f"{stamp} registered scheduled task {task} as {user.account}", f"{stamp} started scheduled task {task}"]
        self.start_vm(user)  # running wsl.exe as the developer starts their VM (the documented side effect)
        mode = self.running_mode(user) or "nat"
        text = "@@wslinfo\r\n" + (mode if s.wsl_msi_version else "wslinfo: command not found") + "\r\n\r\n@@docker-desktop\r\n"
        if "docker-desktop" in user.distros:
            text += self._distro_addrs(mode)
        else:
            text += "There is no distribution with the supplied name.\r\nError code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\r\n"
        text += "@@engine\r\n" + (user.distro_engine or "unavailable") + "\r\n@@end\r\n"
        res.update(Ran=True, TaskResult=0, OutputBase64=base64.b64encode(text.encode()).decode())
        res["Actions"].append(f"{stamp} removed scheduled task {task}")
        res["Cleanup"] = {"TaskRemoved": True, "FileRemoved": True}
        self.actions.append(f"user_context as {user.account}: wslinfo {mode}; task {task} removed")
        return res

    def _distro_addrs(self, mode: str) -> str:
        lines = ["1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever"]
        if mode == "mirrored":
            lines.append("1: lo    inet 10.255.255.254/32 brd 10.255.255.254 scope global lo\\       valid_lft forever preferred_lft forever")
            lines.append(f"2: eth1    inet {self.state.primary_ipv4}/24 brd {_bcast(self.state.primary_ipv4)} scope global noprefixroute eth1\\       valid_lft forever preferred_lft forever")
            lines.append("3: loopback0    inet6 fe80::215:5dff:fe3c:6a11/64 scope link \\       valid_lft forever preferred_lft forever")
        else:
            lines.append(f"2: eth0    inet {NAT_ADDR}/20 brd 172.30.111.255 scope global eth0\\       valid_lft forever preferred_lft forever")
        return "\n".join(lines) + "\n"

    # --- windows_probe.ps1 (opt-in, intrusive) ------------------------------------------------------

    def probe(self) -> dict[str, Any]:
        s, dd = self.state, self.state.docker
        stamp = ts(LAB_EPOCH)
        res: dict[str, Any] = {"Ran": False, "Skipped": None, "Image": "nginx:alpine", "ImagePresentBefore": None, "Port": None,
                               "BindAddress": "0.0.0.0", "Container": None, "RunExitCode": None, "RunStderr": None,
                               "Running": False, "DockerPort": None, "Listeners": [], "PrimaryIPv4": None, "Http": [],
                               "LeftoversRemoved": [],
                               "Cleanup": {"Attempted": False, "Removed": None, "Remaining": None, "PortReleased": None},
                               "Transcript": []}
        log = res["Transcript"]
        if dd is None:
            res["Skipped"] = "docker.exe not found (Docker Desktop not installed?)"
            return res
        if not self.docker_running() or dd.pipe != "ok":
            log.append(f"{stamp} docker version --format \"{{{{.Server.Version}}}}\" -> rc 1")
            res["Skipped"] = "docker engine not reachable: " + (PIPE_DENIED if self.docker_running() else PIPE_MISSING)
            return res
        log.append(f"{stamp} docker version --format \"{{{{.Server.Version}}}}\" -> rc 0")
        res["ImagePresentBefore"] = dd.probe_image_present
        if not dd.probe_image_present:
            res["Skipped"] = "image nginx:alpine not present locally and pulling is not allowed"
            return res
        busy = {r["LocalPort"] for r in self.tcp_listen()} | {r["LocalPort"] for r in self.udp()}
        port = next((p for p in [8081, *range(18080, 18100)] if p not in busy), None)
        if port is None:
            res["Skipped"] = "no free candidate port (8081, 18080-18099)"
            return res
        name = "wslaudit-probe-" + hashlib.sha256(f"{s.hostname}{len(self.actions)}".encode()).hexdigest()[:4]
        res.update(Port=port, Container=name, Ran=True, RunExitCode=0, RunStderr="")
        probe = Container(name, "nginx:alpine", [("0.0.0.0", port, 80, "tcp")], {"wslaudit.probe": "1"})
        dd.containers.append(probe)  # the probe really changes the host until its cleanup
        try:
            log.append(f"{stamp} docker run -d --rm --pull never --name {name} --label wslaudit.probe=1 -p 0.0.0.0:{port}:80 ... -> rc 0")
            res["Running"] = True
            res["DockerPort"] = f"80/tcp -> 0.0.0.0:{port}\n80/tcp -> [::]:{port}"
            res["Listeners"] = [r for r in self.tcp_listen() if r["LocalPort"] == port]
            res["PrimaryIPv4"] = s.primary_ipv4
            ok = bool(res["Listeners"])
            for target in ("127.0.0.1", s.primary_ipv4):
                url = f"http://{target}:{port}/"
                res["Http"].append({"Target": target, "Url": url, "Ok": ok, "Status": 200 if ok else None,
                                    "Error": None if ok else "Unable to connect to the remote server"})
                log.append(f"{stamp} GET {url}")
        finally:
            res["Cleanup"]["Attempted"] = True
            dd.containers.remove(probe)
            log.append(f"{stamp} docker rm -f {name} -> rc 0")
            remaining = [c for c in dd.containers if c.labels.get("wslaudit.probe") == "1"]
            res["Cleanup"].update(Removed=not remaining, Remaining=len(remaining),
                                  PortReleased=port not in {r["LocalPort"] for r in self.tcp_listen()})
            self.actions.append(f"probe {name} on port {port}: listeners={len(res['Listeners'])}; removed")
        return res


def _bcast(addr: str) -> str:
    return ".".join(addr.split(".")[:3] + ["255"])


__all__ = ["MirroredWindowsModel", "WindowsState", "UserProfile", "DockerDesktop", "Container", "Listener", "ps_json"]
