"""A loopback SMTP sink for the nightly job's mail test (aiosmtpd from PyPI): STARTTLS with the
given certificate, AUTH required after it (LOGIN or PLAIN) with one user and password, every
accepted message written as <n>.eml into a folder. Prints the port, then serves until killed.

    python3 smtp_sink.py CERT KEY USER PASSWORD OUTDIR
"""
import pathlib
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password, out = sys.argv[1:6]
out = pathlib.Path(out)
out.mkdir(parents=True, exist_ok=True)


class Sink:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        (out / f"{self.n}.eml").write_bytes(envelope.original_content or envelope.content)
        (out / f"{self.n}.rcpt").write_text("\n".join(envelope.rcpt_tos))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd itself answers 535 to a refused login.
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
# A free loopback port (aiosmtpd's own readiness check connects to the port it was given).
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(
    Sink(),
    hostname="127.0.0.1",
    port=port,
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print(port, flush=True)
while True:
    time.sleep(3600)
