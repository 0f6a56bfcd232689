#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_escape, fuzz_render and fuzz_addr.

The seeds are small inputs that reach every branch a fuzzer would otherwise
have to discover: each escape and its errors, hex separators, quoting, every
class of UTF-8 the renderer treats differently, and each address form and
error. Run it from anywhere; it rewrites tests/fuzz/corpus/fuzz_{escape,
render,addr}/ next to this script.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

ESCAPE = [
    b"", b"hello", b"a\\nb\\r\\n", b"\\t\\0\\\\\\e", b"\\x41\\xff\\x0A", b'\\"q\\"',
    b"\\q", b"x\\", b"\\x4", b"\\x4g", b"\\xg1", b"de ad\tbe:ef-01", b"abc", b"0x41",
    b"41 zz", b'send 2 "hello world" --raw', b'a"b c"d', b'x "" y', b'send "a\\"b"',
    b'send \\"a b\\"', b'send "# not" a#b # comment "x', b"# only a comment",
    b'send "abc', b"a b c d e f g h i j", b"\x00\x01\x1b[2J", b"\xff\xfe\\x00",
    b"caf\xc3\xa9 \\e]0;t\\x07", b"\\", b'"', b"\\\\\\\\\\",
]

RENDER = [
    b"", b"hello world\r\n", b"\x1b]0;title\x07", b"\x1b[2J\x1b[H", b"\x9b31m",
    b"\xc2\x9b31m", b"a\xe2\x80\xaeb", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
    b"ab\xe2\x82", b"\xe2\x82ab", b"\xf5\x80\x80\x80", b"\xf4\x90\x80\x80",
    b"a\rb\bc\x7f", b"%n%s%x", b"caf\xc3\xa9", "日本語".encode(), "😀👍🏽".encode(),
    "한국어".encode(), "Ａｂｃ".encode(), b"e\xcc\x81 \xcc\x81x", b"\xe2\x83\x9d",
    b"\xe2\x80\x8b\xe2\x80\x8d\xef\xbb\xbf", b"\xc2\xad\xe1\xa0\x8e\xd8\x9c",
    b"\xe2\x81\xa6x\xe2\x81\xa9", b"\xe2\x80\xa8", b"\xf3\xa0\x80\x81",
    bytes(range(256)), bytes(range(255, -1, -1)), b"\\x41\\\\", b"\x80\xbf\xc2",
    ("x" * 100 + "日" * 20).encode(), b"\x00" * 40, "Ωмир\u0301".encode(),
]

ADDR = [
    b"tcp:9000", b"udp:0", b"tcp:127.0.0.1:80", b"tcp:0.0.0.0:65535", b"tcp:[::1]:9000",
    b"udp:[::]:53", b"tcp:[0:0::0:1]:7", b"tcp:[::ffff:10.0.0.1]:7", b"tcp:localhost:80",
    b"TCP:1", b"unix:/tmp/s.sock", b"unix-dgram:rel/path", b"unix:@abstract",
    b"unix:" + b"p" * 107, b"unix:" + b"p" * 108, b"", b"9000", b"sctp:1.2.3.4:5",
    b"tcp:", b"tcp:localhost", b"tcp:host:", b"tcp:host:http", b"tcp:host:65536",
    b"tcp::80", b"tcp:[]:80", b"tcp:::1:80", b"udp:::1", b"tcp:[::1:80", b"tcp:::1]:80",
    b"tcp:[::1]", b"tcp:[::1]x:80", b"tcp:[localhost]:80", b"tcp:1.2.3.256:80",
    b"tcp:h\x1bq:80", b"unix:", b"unix:@",
    # raw kernel addresses for sp_sockaddr_format: AF_INET, AF_INET6, AF_UNIX
    b"\x02\x00\x1f\x90\x7f\x00\x00\x01" + b"\x00" * 8,
    b"\x0a\x00\x01\xbb" + b"\x00" * 4 + b"\x00" * 15 + b"\x01" + b"\x00" * 4,
    b"\x01\x00/tmp/x.sock\x00", b"\x01\x00\x00abstract", b"\x01\x00",
    # TLS on TCP
    b"tls:example.com:443", b"TLS:[::1]:8443", b"tls:127.0.0.1:0", b"tls:4443", b"tls:",
    b"tls:[::1]", b"tls:host:99999",
]


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(s)


write("fuzz_escape", ESCAPE)
write("fuzz_render", RENDER)
write("fuzz_addr", ADDR)
