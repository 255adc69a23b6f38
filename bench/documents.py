"""Documents benchmark: N inbound messages with a 200 KB PDF each through the inbound listener
(`flask inbound`, a separate process), then "send all" of the client's inbox by e-mail (`flask worker
--burst`) to a local SMTP server. Each figure is also given against a baseline measured in the same run:
the same messages sent to a bare SMTP sink (no parsing, storage or database), and the same e-mails sent
by plain smtplib over one connection.

    python bench/documents.py [--messages 1000] [--runs 3] [--connections 4]

Makes its own instance folder, SQLite database (or BENCH_DATABASE_URL) and embedded Redis; prints the
median of the runs and each run's figures; peak RSS of the listener and of the worker.
"""
import argparse
import asyncio
import multiprocessing
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PDF_SIZE = 200 * 1024
SENDER = "factuur@leverancier.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# A bare SMTP sink in its own process: speaks SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), reads
# DATA in whole chunks up to the final "." line and counts messages; nothing else, so it is never the bottleneck.
class _SinkProtocol(asyncio.Protocol):
    def __init__(self, count):
        self.count, self.buffer, self.in_data = count, b"", False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data):
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer, self.in_data = self.buffer[end + 5:], False
                with self.count.get_lock():
                    self.count.value += 1
                self.transport.write(b"250 OK\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                return
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-SIZE 67108864\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so an empty message's "." line is found too
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 Bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


def _sink(port: int, count, ready) -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(lambda: _SinkProtocol(count), "127.0.0.1", port))
    ready.set()
    loop.run_forever()


class Sink:
    def __init__(self):
        self.port = free_port()
        context = multiprocessing.get_context("spawn")  # not a fork of this process with its threads and connections
        self.count = context.Value("i", 0)
        ready = context.Event()
        self.process = context.Process(target=_sink, args=(self.port, self.count, ready), daemon=True)
        self.process.start()
        ready.wait(10)

    def stop(self):
        self.process.terminate()
        self.process.join(5)


class PeakRss(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process, self.peak, self.running = psutil.Process(pid), 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.join(1)
        return self.peak / 2**20


def message_bytes(to: str, pdf: bytes, n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Leverancier NV <{SENDER}>"
    message["To"] = to
    message["Subject"] = f"Factuur {n}"
    message["Message-ID"] = f"<bench-{n}-{time.time_ns()}@leverancier.example.com>"
    message.set_content("In bijlage onze factuur.")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"factuur-{n}.pdf")
    return message.as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as on the wire


def send_all(port: int, to: str, messages: list[bytes], connections: int) -> float:
    """Send the messages over `connections` parallel SMTP connections; returns the seconds taken."""
    errors = []

    def worker(batch):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for data in batch:
                    smtp.sendmail(SENDER, [to], data)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(messages[i::connections],)) for i in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"sending failed: {errors[0]!r}")
    return time.perf_counter() - start


def plain_smtplib(port: int, count: int, pdf: bytes) -> float:
    """Baseline for delivery: the same mails built and sent by smtplib over one connection."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for n in range(count):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "bench@clientdesk.example", "purchase@octopus.example.com", f"F {n}"
            message.set_content("Document")
            message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"factuur-{n}.pdf")
            smtp.send_message(message)
    return time.perf_counter() - start


def one_run(count: int, connections: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    env = dict(os.environ, INSTANCE_PATH=str(folder), SECRET_KEY="bench", MAIL_RETRY_DELAYS="0.2")
    env.pop("FLASK_DEBUG", None)
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    shared = ("INSTANCE_PATH", "SECRET_KEY", "DATABASE_URL")
    os.environ.update({k: env[k] for k in shared if k in env})

    from flask_migrate import upgrade

    from clientdesk import tasks
    from clientdesk.app import create_app
    from clientdesk.broker import redis_url
    from clientdesk.extensions import db
    from clientdesk.jobs.documents import run_send_inbox
    from clientdesk.models import AllowedSender, Client, ClientIntegration, Document, Group, IntegrationProduct, Task
    from clientdesk.reference_data import ensure_reference_data

    sink = Sink()
    app = create_app({"DOCUMENTS_DIR": str(folder / "documents")})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade()
        ensure_reference_data()
        client = Client(name="Bench BV", enterprise_number="0403170701", vat_number="BE0403170701", group=Group.default())
        client.allowed_senders.append(AllowedSender(pattern="@leverancier.example.com"))
        product = db.session.scalar(db.select(IntegrationProduct).filter_by(name="Octopus"))
        client.integration = ClientIntegration(product=product, delivery_method="email",
                                               delivery_email="purchase@octopus.example.com")
        db.session.add(client)
        db.session.commit()
        client_id, inbound = client.id, client.inbound_email
        env["REDIS_URL"] = redis_url(app)

    pdf = b"%PDF-1.4\n" + os.urandom(PDF_SIZE - 16) + b"\n%%EOF\n"
    messages = [message_bytes(inbound, pdf, n) for n in range(count)]

    # 1. inbound: baseline (bare sink), then the listener
    baseline_in = send_all(sink.port, inbound, messages, connections)
    port = free_port()
    listener = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "inbound", "--port", str(port)], cwd=ROOT,
                                env=dict(env, DOCUMENTS_DIR=str(folder / "documents")), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        rss = PeakRss(listener.pid)
        rss.start()
        inbound_seconds = send_all(port, inbound, [message_bytes(inbound, pdf, n) for n in range(count)], connections)
        listener_rss = rss.stop()
    finally:
        listener.terminate()
        listener.wait(15)
    with app.app_context():
        stored = db.session.scalar(db.select(db.func.count(Document.id)).where(Document.client_id == client_id))
    assert stored == count, f"{stored} documents stored for {count} messages"

    # 2. send all: baseline (plain smtplib), then the worker
    baseline_out = plain_smtplib(sink.port, count, pdf)
    before = sink.count.value
    with app.app_context():
        task = tasks.launch("send_documents", "bench", run_send_inbox, client_id, total=count, queue="bulk",
                            client=db.session.get(Client, client_id))
        task_id = task.id
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"], cwd=ROOT,
                              env=dict(env, MAIL_URL=f"smtp://127.0.0.1:{sink.port}", DOCUMENTS_DIR=str(folder / "documents")),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss = PeakRss(worker.pid)
    rss.start()
    worker.wait(600)
    worker_rss = rss.stop()
    with app.app_context():
        task = db.session.get(Task, task_id)
        job_seconds = (task.ended_at - task.started_at).total_seconds()
        assert task.status == "finished" and task.result["done"] == count, (task.status, task.error)
    assert sink.count.value - before == count
    sink.stop()
    shutil.rmtree(folder / "documents")  # 200 MB per 1,000 messages; the small rest goes with the temp folder
    return {
        "inbound_per_s": count / inbound_seconds, "inbound_baseline_per_s": count / baseline_in,
        "delivery_per_s": count / job_seconds, "delivery_baseline_per_s": count / baseline_out,
        "listener_rss_mib": listener_rss, "worker_rss_mib": worker_rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="parallel SMTP connections sending inbound mail")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        # each run in a fresh interpreter state would be cleaner; a fresh instance folder and database is enough here
        result = one_run(args.messages, args.connections)
        runs.append(result)
        print(f"run {n + 1}: " + ", ".join(f"{k}={v:.1f}" for k, v in result.items()), flush=True)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"\n{args.messages} messages of {PDF_SIZE // 1024} KB, {args.connections} inbound connections, median of {args.runs} runs:")
    print(f"  inbound  {median['inbound_per_s']:7.1f} messages/s  (bare SMTP sink {median['inbound_baseline_per_s']:.1f}/s, "
          f"ratio {median['inbound_per_s'] / median['inbound_baseline_per_s']:.2f}); "
          f"listener peak RSS {median['listener_rss_mib']:.0f} MiB")
    print(f"  delivery {median['delivery_per_s']:7.1f} e-mails/s   (plain smtplib {median['delivery_baseline_per_s']:.1f}/s, "
          f"ratio {median['delivery_per_s'] / median['delivery_baseline_per_s']:.2f}); worker peak RSS {median['worker_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
