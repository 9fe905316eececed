"""Compression bombs written straight from the formats' public descriptions, in milliseconds.

Compressing 512 MiB of zeros takes seconds; these write the same files without doing it. A raw
DEFLATE stream (RFC 1951) whose compressor is fully flushed after each 1 MiB of zeros repeats one
identical, self-contained run of blocks, so one run is computed and written N times. Around it: a zip
with one stored-as-deflated member (PKWARE APPNOTE.TXT 4.3.7 local header, 4.3.12 central directory,
4.3.16 end record), or a gzip member (RFC 1952) around a POSIX ustar archive (tarfile writes the header).
"""

from __future__ import annotations

import struct
import tarfile
import zlib
from pathlib import Path

MIB = 1 << 20


def _deflate_zeros(prefix: bytes, mib: int, suffix: bytes = b"") -> tuple[bytes, int, int]:
    """Raw DEFLATE of ``prefix`` + ``mib`` MiB of zeros + ``suffix``: (stream, crc32, size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = bytes(MIB)
    run = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(suffix) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    return head + run * mib + tail, crc, len(prefix) + mib * MIB + len(suffix)


def zip_bomb(path: Path, mib: int, name: str = "big.bin") -> Path:
    """A zip with one deflated member of ``mib`` MiB of zeros (a real 512 MiB one is about 520 kB)."""
    data, crc, size = _deflate_zeros(b"", mib)
    raw = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0x21,
        crc,
        len(data),
        size,
        len(raw),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    directory = central + raw
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(local) + len(raw) + len(data), 0
    )
    path.write_bytes(local + raw + data + directory + end)
    return path


def tgz_bomb(path: Path, mib: int, name: str = "big.bin") -> Path:
    """A gzip-compressed ustar archive holding one member of ``mib`` MiB of zeros."""
    info = tarfile.TarInfo(name)
    info.size = mib * MIB
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    # the member's zeros need no padding (whole MiBs); two zero blocks end the archive
    data, crc, size = _deflate_zeros(header, mib, suffix=bytes(1024))
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    path.write_bytes(gzip_header + data + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return path
