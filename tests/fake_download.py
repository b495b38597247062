"""torchvision's download replaced for tests of the data-fetch logic: nothing leaves the machine.

"Online" copies the files from a local data root named by $CNNLAB_FAKE_DOWNLOAD_FROM; without it
the machine is "offline" and every download fails as it would without a network. Every call is
appended to the file named by $CNNLAB_FAKE_DOWNLOAD_LOG (if set). Load it into a pytest run with
``-p fake_download`` (tests/ on PYTHONPATH); in-process tests call ``install(monkeypatch)``.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.error import URLError

SOURCE_ENV = "CNNLAB_FAKE_DOWNLOAD_FROM"
LOG_ENV = "CNNLAB_FAKE_DOWNLOAD_LOG"


def download_and_extract_archive(url, download_root, extract_root=None, filename=None, md5=None,
                                 remove_finished=False):
    """What torchvision.datasets.mnist calls for each file: here a copy from the local source."""
    if os.environ.get(LOG_ENV):
        with open(os.environ[LOG_ENV], "a") as log:
            log.write(f"{download_root}\t{filename}\n")
    source = os.environ.get(SOURCE_ENV)
    if not source:
        raise URLError("no network (simulated offline machine)")
    name = (filename or url.rsplit("/", 1)[-1]).removesuffix(".gz")
    folder = Path(download_root).parent.name                  # MNIST or FashionMNIST
    Path(download_root).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(source) / folder / "raw" / name, Path(extract_root or download_root) / name)


def _loopback_only(connect):
    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"tests may not reach {host} (simulated offline machine)")
        return connect(sock, address)
    return guarded


def install(monkeypatch=None) -> None:
    import torchvision.datasets.mnist as tv_mnist
    if monkeypatch is not None:
        monkeypatch.setattr(tv_mnist, "download_and_extract_archive", download_and_extract_archive)
    else:
        tv_mnist.download_and_extract_archive = download_and_extract_archive
        socket.socket.connect = _loopback_only(socket.socket.connect)


def pytest_configure(config):          # loaded with -p fake_download: for the whole run
    install()
