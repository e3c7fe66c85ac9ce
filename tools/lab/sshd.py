"""The lab's SSH endpoint: an sshd on 127.0.0.1 whose only key is forced into `vtysh` for r2.

It lets the SSH transport (scrapli) be tested against real FRR. Key-only, root limited to the forced
command, its own host key, pid file and config under `<lab root>/ssh/`.
"""

from __future__ import annotations

from pathlib import Path

from tools.lab.proc import run

__all__ = ["SSH_ROUTER", "start_sshd"]

SSH_ROUTER = "r2"


def start_sshd(root: Path, port: int) -> Path:
    """Write keys and config and start sshd; returns its pid file."""
    base = root / "ssh"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        if not (base / name).exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"netops-lab-{name}", "-f", str(base / name)])
    vtysh = f"vtysh --vty_socket {root / SSH_ROUTER / 'run'}"
    client = (base / "client_key.pub").read_text().strip()
    (base / "authorized_keys").write_text(f'restrict,pty,command="{vtysh}" {client}\n')
    host = " ".join((base / "host_key.pub").read_text().split()[:2])
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host}\n")
    config = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {base / 'host_key'}",
        f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}",
        "PermitRootLogin forced-commands-only",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "AllowUsers root",
        "X11Forwarding no",
        "AllowTcpForwarding no",
    ]
    (base / "sshd_config").write_text("\n".join(config) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    run(["/usr/sbin/sshd", "-f", str(base / "sshd_config"), "-E", str(base / "sshd.log")])
    return base / "sshd.pid"
