"""Document files on disk: durable once save() returns."""
import os

from clientdesk.services.storage import DocumentStore


def test_a_saved_file_and_its_name_are_on_disk(tmp_path, monkeypatch):
    synced = []
    fsync = os.fsync

    def recording_fsync(descriptor):
        synced.append(os.fstat(descriptor).st_ino)
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store = DocumentStore(tmp_path)
    first = store.path(store.save(7, "factuur.pdf", b"%PDF-1.4"))
    # the file, then its folder, and the folders that came with it (client 7's, and its month's)
    assert synced == [path.stat().st_ino for path in (first, first.parent, first.parent.parent, tmp_path)]
    assert first.read_bytes() == b"%PDF-1.4"

    synced.clear()
    second = store.path(store.save(7, "creditnota.pdf", b"%PDF-1.7"))
    assert synced == [path.stat().st_ino for path in (second, second.parent)]
