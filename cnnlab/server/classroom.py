"""Running a lesson: the address students join (as text and as a QR code) and the teacher key.

Finding the LAN address sends nothing over the network: it reads the host's own addresses
(and, as a fallback, asks the kernel which local address a UDP socket *would* use; a UDP
``connect`` only sets a default destination, no packet leaves the machine).
"""
from __future__ import annotations

import hmac
import io
import ipaddress
import secrets
import socket

import numpy as np

from ..i18n import TeacherOnly, Text


def lan_address() -> str | None:
    """This machine's address on the local network (private IPv4), or None if it has none."""
    candidates = []
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))      # no packet is sent: UDP connect only picks a route
            candidates.append(s.getsockname()[0])
    except OSError:
        pass
    for addr in candidates:
        ip = ipaddress.ip_address(addr)
        if ip.is_private and not ip.is_loopback and not ip.is_link_local:
            return addr
    return None


def join_url(host: str, port: int, root_path: str = "") -> str:
    """The address to give students: the LAN address when serving all interfaces."""
    if host in ("0.0.0.0", "::", ""):
        host = lan_address() or "127.0.0.1"
    return f"http://{host}:{port}{root_path}"


def qr_image(text: str, box: int = 8) -> np.ndarray:
    """A QR code of ``text`` as a black-on-white uint8 image (H, W)."""
    import qrcode
    qr = qrcode.QRCode(border=2, box_size=box, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return np.asarray(qr.make_image(fill_color="black", back_color="white").convert("L"))


def qr_text(text: str) -> str:
    """The QR code drawn with characters, for the terminal."""
    import qrcode
    qr = qrcode.QRCode(border=1)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


class TeacherKey:
    """The passcode that guards teacher actions (start/stop runs, checkpoint upload, the class
    board's new/clear/export/fine-tune). No key set: everyone may."""

    def __init__(self, secret: str | None = None):
        self.secret = secret or None

    @property
    def required(self) -> bool:
        return self.secret is not None

    def accepts(self, key: str | None) -> bool:
        """True when no key is set, or when ``key`` matches it (constant-time compare)."""
        return not self.secret or hmac.compare_digest(str(key or "").encode(), self.secret.encode())

    def require(self, key: str | None, message: Text | None = None) -> None:
        """Nothing when ``accepts(key)``; else a ``TeacherOnly`` refusal saying ``message`` (by
        default: this needs the teacher key). The one check of the key: the job's actions and the
        pages' teacher-only handlers (``cnnlab.ui.common.teacher_only``) both come here."""
        if not self.accepts(key):
            raise TeacherOnly(message or Text("errors.teacher_key"))


def generate_key() -> str:
    """A key for ``--lan`` without one: short enough to type from the terminal, hard to guess
    (about 50 bits)."""
    return secrets.token_urlsafe(9)
