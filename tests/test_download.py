"""The download layer against a real HTTP server on 127.0.0.1 serving generated fixture files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading

import numpy as np
import pytest

from partbased.data import download as dl
from partbased.data.download import DataFormatError, DownloadError, RemoteFile

# --------------------------------------------------------------------------- fixtures


def idx_raw(array: np.ndarray, magic: int | None = None) -> bytes:
    """An unpacked IDX file (big-endian header, uint8 payload)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """A gzip IDX file as MNIST serves it."""
    return gzip.compress(idx_raw(array, magic), mtime=0)


def regzip(blob: bytes) -> bytes:
    """Another gzip of the same content (level and header differ, as with `gzip -n -9`)."""
    other = gzip.compress(gzip.decompress(blob), compresslevel=1, mtime=1)
    assert other != blob and gzip.decompress(other) == gzip.decompress(blob)
    return other


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(monkeypatch):
    """A threaded HTTP server serving `server.files` {path: bytes}; `server.requests` logs paths."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    files: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.files, httpd.requests = files, requests
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url():
    """A URL on a port nothing listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def tiny(monkeypatch):
    """A registered IDX dataset 'tiny' (50 train + 20 test images) with its own hashes, as served
    and of the unpacked content."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 50, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 20, dtype=np.uint8),
    }
    blobs = {name: idx_bytes(a) for name, a in arrays.items()}
    remote = {name: RemoteFile(name, sha(b), len(b), sha(gzip.decompress(b))) for name, b in blobs.items()}
    names = list(arrays)
    ds = dl.IdxDataset(("http://unused.invalid/",), *(remote[n] for n in names))
    monkeypatch.setitem(dl.IDX_DATASETS, "tiny", ds)
    return arrays, blobs


def serve(server, prefix: str, blobs: dict[str, bytes]) -> str:
    for name, body in blobs.items():
        server.files[f"/{prefix}/{name}"] = body
    return f"{server.url}/{prefix}/"


# --------------------------------------------------------------------------- fetch + IDX


def test_download_verified_parsed_and_cached(server, tiny, tmp_path):
    arrays, blobs = tiny
    base = serve(server, "m1", blobs)
    images, labels, split = dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    want = np.concatenate([arrays["train-images-idx3-ubyte.gz"], arrays["t10k-images-idx3-ubyte.gz"]])
    assert images.dtype == np.float32 and images.shape == (70, 28, 28)
    np.testing.assert_array_equal(np.rint(images * 255).astype(np.uint8), want)
    np.testing.assert_array_equal(labels, np.concatenate([arrays["train-labels-idx1-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]]))
    assert labels.dtype == np.int64
    assert list(split) == ["train"] * 50 + ["test"] * 20
    assert len(server.requests) == 4
    dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    assert len(server.requests) == 4  # all four came from the cache


def test_checksum_mismatch_falls_through(server, tiny, tmp_path):
    _, blobs = tiny
    bad = serve(server, "bad", {n: b[:-1] + b"x" for n, b in blobs.items()})
    good = serve(server, "good", blobs)
    images, _, _ = dl.load_idx_dataset("tiny", tmp_path, mirrors=[bad, good])
    assert images.shape == (70, 28, 28)
    # each file: the bad .gz, then its unpacked name (404 there), then the good mirror
    assert sum(r.startswith("/bad/") for r in server.requests) == 8
    assert sum(r.startswith("/good/") for r in server.requests) == 4


def test_all_mirrors_fail_names_file_and_urls(server, tiny, closed_port_url, tmp_path):
    _, blobs = tiny
    name = "train-images-idx3-ubyte.gz"
    bad = serve(server, "bad", {name: blobs[name] + b"junk"})
    urls = [bad + name, f"{server.url}/missing/{name}", f"{closed_port_url}/{name}"]
    with pytest.raises(DownloadError) as err:
        dl.fetch(urls, name, sha(blobs[name]), tmp_path / "cache")
    message = str(err.value)
    assert name in message and all(u in message for u in urls)
    assert "sha256 mismatch" in message and "HTTP 404" in message and "connection refused" in message
    assert list((tmp_path / "cache").iterdir()) == []  # no partial or mismatching file left


def test_unreachable_mirror_falls_through(server, tiny, closed_port_url, tmp_path):
    _, blobs = tiny
    good = serve(server, "good", blobs)
    images, labels, _ = dl.load_idx_dataset("tiny", tmp_path, mirrors=[closed_port_url + "/", good])
    assert images.shape == (70, 28, 28) and labels.shape == (70,)


def test_corrupt_cached_file_is_refetched(server, tiny, tmp_path):
    _, blobs = tiny
    name = "t10k-labels-idx1-ubyte.gz"
    base = serve(server, "m", blobs)
    (tmp_path / name).write_bytes(b"stale")
    path = dl.fetch([base], name, sha(blobs[name]), tmp_path)
    assert path.read_bytes() == blobs[name] and len(server.requests) == 1
    # a stale unpacked copy is not handed out either
    path.unlink()
    (tmp_path / unpacked(name)).write_bytes(gzip.decompress(blobs[name])[:-1])
    path = dl.fetch([base], name, sha(blobs[name]), tmp_path, sha(gzip.decompress(blobs[name])))
    assert path.name == name and not (tmp_path / unpacked(name)).exists() and len(server.requests) == 2


def test_file_url_and_local_dir_sources(tiny, tmp_path):
    arrays, blobs = tiny
    src = tmp_path / "src"
    src.mkdir()
    for name, body in blobs.items():
        (src / name).write_bytes(body)
    a = dl.load_idx_dataset("tiny", tmp_path / "c1", mirrors=[src.as_uri() + "/"])
    b = dl.load_idx_dataset("tiny", tmp_path / "c2", mirrors=[str(src)])
    np.testing.assert_array_equal(a[0], b[0])
    # a local file with the wrong hash falls through, and leaves nothing behind
    name = "train-labels-idx1-ubyte.gz"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        dl.fetch([str(src / "t10k-labels-idx1-ubyte.gz")], name, sha(blobs[name]), tmp_path / "c3")
    assert list((tmp_path / "c3").iterdir()) == []
    path = dl.fetch([str(tmp_path / "nowhere"), str(src / name)], name, sha(blobs[name]), tmp_path / "c3")
    np.testing.assert_array_equal(dl.read_idx(path), arrays[name])


def unpacked(name: str) -> str:
    return name.removesuffix(".gz")


def test_mirror_serving_unpacked_idx(server, tiny, tmp_path):
    arrays, blobs = tiny
    base = serve(server, "raw", {unpacked(n): gzip.decompress(b) for n, b in blobs.items()})
    images, labels, split = dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    np.testing.assert_array_equal(np.rint(images[:50] * 255).astype(np.uint8), arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(labels[50:], arrays["t10k-labels-idx1-ubyte.gz"])
    assert list(split).count("test") == 20
    # per file: the .gz (404), then the unpacked file; the cache holds the unpacked files
    assert sorted(server.requests) == sorted(f"/raw/{n}" for name in blobs for n in (name, unpacked(name)))
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == sorted(unpacked(n) for n in blobs)
    dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    assert len(server.requests) == 8  # verified files are never fetched again


def test_mirror_serving_another_gzip_of_the_content(server, tiny, tmp_path):
    arrays, blobs = tiny
    base = serve(server, "regz", {n: regzip(b) for n, b in blobs.items()})
    images, labels, _ = dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    np.testing.assert_array_equal(np.rint(images[50:] * 255).astype(np.uint8), arrays["t10k-images-idx3-ubyte.gz"])
    assert len(server.requests) == 4  # accepted as delivered: the unpacked files are not asked for
    for name in blobs:  # kept unpacked, verified by the content's sha256
        assert (tmp_path / "tiny" / unpacked(name)).read_bytes() == gzip.decompress(blobs[name])
        assert not (tmp_path / "tiny" / name).exists()
    dl.load_idx_dataset("tiny", tmp_path, mirrors=[base])
    assert len(server.requests) == 4


def test_wrong_unpacked_content_is_refused(server, tiny, tmp_path):
    arrays, blobs = tiny
    name = "train-labels-idx1-ubyte.gz"
    wrong = arrays[name].copy()
    wrong[7] = (wrong[7] + 1) % 10  # one label changed: a valid IDX file, but not this one
    bad_gz, bad_raw = gzip.compress(idx_raw(wrong), mtime=1), idx_raw(wrong)
    base = serve(server, "bad", {name: bad_gz, unpacked(name): bad_raw})
    with pytest.raises(DownloadError) as err:
        dl.fetch([base + name, base + unpacked(name)], name, sha(blobs[name]), tmp_path, sha(gzip.decompress(blobs[name])))
    message = str(err.value)
    assert message.startswith(f"could not fetch {name} (sha256 {sha(blobs[name])}, or unpacked sha256 {sha(gzip.decompress(blobs[name]))})")
    assert f"{base + name}: sha256 mismatch (got {sha(bad_gz)}, unpacked {sha(bad_raw)})" in message
    assert f"{base + unpacked(name)}: sha256 mismatch (got {sha(bad_raw)})" in message
    assert list(tmp_path.iterdir()) == []  # neither the download nor its unpacked copy is left


def test_truncated_other_gzip_is_refused(server, tiny, tmp_path):
    _, blobs = tiny
    name = "train-images-idx3-ubyte.gz"
    base = serve(server, "cut", {name: regzip(blobs[name])[:-100]})
    with pytest.raises(DownloadError, match="corrupt or truncated gzip"):
        dl.fetch([base + name], name, sha(blobs[name]), tmp_path, sha(gzip.decompress(blobs[name])))
    assert list(tmp_path.iterdir()) == []


def test_local_folder_of_unpacked_and_regzipped_files(tiny, tmp_path):
    arrays, blobs = tiny
    src = tmp_path / "src"
    src.mkdir()
    for i, (name, body) in enumerate(blobs.items()):  # a mixed folder: half unpacked, half recompressed
        if i % 2:
            (src / unpacked(name)).write_bytes(gzip.decompress(body))
        else:
            (src / name).write_bytes(regzip(body))
    images, labels, _ = dl.load_idx_dataset("tiny", tmp_path / "cache", mirrors=[str(src)])
    np.testing.assert_array_equal(labels[:50], arrays["train-labels-idx1-ubyte.gz"])
    assert images.shape == (70, 28, 28)


def test_cached_served_gz_still_accepted(server, tiny, tmp_path):
    """A cache filled before unpacked files were accepted (the served .gz) is used as it is."""
    _, blobs = tiny
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name, body in blobs.items():
        (folder / name).write_bytes(body)
    dl.load_idx_dataset("tiny", tmp_path, mirrors=[f"{server.url}/nothing/"])
    assert server.requests == []


@pytest.mark.parametrize(
    "body, problem",
    [
        (idx_bytes(np.zeros((5, 28, 28)))[:-20], "truncated gzip"),
        (idx_bytes(np.zeros((5, 28, 28)), magic=0x0802), "magic"),
        (gzip.compress(struct.pack(">IIII", 0x803, 6, 28, 28) + bytes(5 * 784)), "shape"),
    ],
)
def test_read_idx_format_errors(tmp_path, body, problem):
    path = tmp_path / "broken-idx3-ubyte.gz"
    path.write_bytes(body)
    with pytest.raises(DataFormatError, match=problem) as err:
        dl.read_idx(path)
    assert str(path) in str(err.value)


def test_wrong_image_shape_in_dataset(tmp_path, monkeypatch):
    blobs = {
        "tr-img": idx_bytes(np.zeros((4, 10, 10))),
        "tr-lab": idx_bytes(np.zeros(4)),
        "te-img": idx_bytes(np.zeros((2, 10, 10))),
        "te-lab": idx_bytes(np.zeros(2)),
    }
    for name, body in blobs.items():
        (tmp_path / name).write_bytes(body)
    ds = dl.IdxDataset((str(tmp_path),), *(RemoteFile(n, sha(b), len(b)) for n, b in blobs.items()))
    monkeypatch.setitem(dl.IDX_DATASETS, "odd", ds)
    with pytest.raises(DataFormatError, match="tr-img"):
        dl.load_idx_dataset("odd", tmp_path / "cache")


# --------------------------------------------------------------------------- user matrices


def test_csv_negative_value_names_row_and_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2,3,4\n5,6,-7,8\n")
    with pytest.raises(DataFormatError, match=r"negative value .* row 2 \(line 2\), column 3") as err:
        dl.load_matrix(path)
    assert str(path) in str(err.value)


def test_csv_non_numeric_value_names_row_and_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,d\n1,2,3,4\n5,6,7,8\n9,oops,1,1\n")  # header line skipped
    with pytest.raises(DataFormatError, match=r"'oops' at row 3 \(line 4\), column 2") as err:
        dl.load_matrix(path)
    assert str(path) in str(err.value)
    path.write_text("1,2\n3,\n")
    with pytest.raises(DataFormatError, match="non-finite .* row 2"):
        dl.load_matrix(path)


@pytest.mark.parametrize("fields, header", [(14, False), (17, False), (14, True), (1, True)])
def test_csv_ragged_row_names_row_and_counts(tmp_path, fields, header):
    """A short row (pandas pads it with NaN) or a long one (pandas fails to tokenize) is a shape error."""
    rows = [",".join(["0.5"] * 16)] * 12
    rows[9] = ",".join(["0.25"] * fields)
    lines = (["p" + ",p".join(map(str, range(16)))] if header else []) + rows[:5] + [""] + rows[5:]  # a blank line: skipped
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    line = 10 + 1 + int(header)  # the blank line and the header come before row 10
    with pytest.raises(DataFormatError) as err:
        dl.load_matrix(path)
    assert str(err.value) == f"{path}: row 10 has {fields} fields, 16 expected (line {line})"


def test_csv_short_first_row_is_the_odd_one(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2,3\n" + "1,2,3,4\n" * 5)  # pandas takes the first row's width; most rows have 4
    with pytest.raises(DataFormatError, match=r"x.csv: row 1 has 3 fields, 4 expected \(line 1\)"):
        dl.load_matrix(path)


def test_csv_header_labels_and_shapes(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(6, 4) / 10
    path = tmp_path / "x.csv"
    path.write_text("p0,p1,p2,p3\n" + "\n".join(",".join(map(str, row)) for row in x) + "\n")
    images, labels = dl.load_matrix(path)
    assert labels is None and images.shape == (6, 2, 2) and images.dtype == np.float32
    np.testing.assert_allclose(images.reshape(6, 4), x, rtol=1e-6)
    (tmp_path / "y.csv").write_text("\n".join(str(i % 3) for i in range(6)) + "\n")
    images, labels = dl.load_matrix(path, labels_path=tmp_path / "y.csv", image_shape=(1, 4))
    assert images.shape == (6, 1, 4) and labels.tolist() == [0, 1, 2, 0, 1, 2] and labels.dtype == np.int64
    with pytest.raises(DataFormatError, match="image_shape"):
        dl.load_matrix(path, image_shape=(3, 3))


def test_npy_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((7, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(7))
    images, labels = dl.load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    assert images.shape == (7, 1, 12)  # 12 is not a square
    np.testing.assert_array_equal(images.reshape(7, 12), x)
    assert labels.tolist() == list(range(7))
    x[3, 5] = -1
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(DataFormatError, match="row 4, column 6"):
        dl.load_matrix(tmp_path / "bad.npy")
    np.save(tmp_path / "y_short.npy", np.arange(3))
    with pytest.raises(DataFormatError, match="one per sample"):
        dl.load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "y_short.npy")


def test_zarr_round_trip(tmp_path):
    import zarr

    from partbased.data import build_dataset, write_zarr

    rng = np.random.default_rng(2)
    images = rng.random((20, 3, 3)).astype(np.float32)
    labels = np.repeat(np.arange(2), 10)
    store = tmp_path / "d.zarr"
    write_zarr(build_dataset(images, labels, 0.25, 0, {}), store)
    got, got_labels = dl.load_matrix(store)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)
    plain = tmp_path / "plain.zarr"
    zarr.create_array(str(plain), shape=(5, 16), dtype="f4")[...] = np.ones((5, 16), np.float32)
    got, got_labels = dl.load_matrix(plain)
    assert got.shape == (5, 4, 4) and got_labels is None


# --------------------------------------------------------------------------- faces


def pgm_p5(pixels: np.ndarray) -> bytes:
    h, w = pixels.shape
    return f"P5\n# CBCL-like\n{w} {h}\n255\n".encode() + pixels.astype(np.uint8).tobytes()


def test_cbcl_folder_archive_and_nmfpack(tmp_path):
    import tarfile

    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (3, 19, 19))
    folder = tmp_path / "faces" / "train" / "face"
    folder.mkdir(parents=True)
    for i, pixels in enumerate(faces, start=1):
        (folder / f"face{i:05d}.pgm").write_bytes(pgm_p5(pixels))
    (folder / "B1_00001.pgm").write_bytes(pgm_p5(faces[0]))  # a non-face: not matched
    images, labels = dl.load_cbcl(tmp_path / "faces")
    assert labels is None and images.shape == (3, 19, 19) and images.dtype == np.float32
    np.testing.assert_allclose(images, faces / 255, rtol=1e-6)

    archive = tmp_path / "faces.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "faces", arcname="faces")
    pre, _ = dl.load_cbcl(archive, preprocess="nmfpack")
    # by hand, image 2: standardise, (z + 0.25) * 0.25, clip to [0, 1], floor 1e-4
    v = [float(p) for p in faces[1].ravel()]
    mean = sum(v) / len(v)
    rms = (sum((p - mean) ** 2 for p in v) / len(v)) ** 0.5
    want = [max(min(((p - mean) / rms + 0.25) * 0.25, 1.0), 1e-4) for p in v]
    np.testing.assert_allclose(pre[1].ravel(), want, rtol=1e-5)
    assert pre.min() >= 1e-4 and pre.max() <= 1


def test_pgm_p2_and_errors():
    pixels, maxval = dl.read_pgm(b"P2\n# comment\n3 2\n15\n0 1 2\n13 14 15\n")
    assert maxval == 15 and pixels.tolist() == [[0, 1, 2], [13, 14, 15]]
    with pytest.raises(DataFormatError, match="truncated"):
        dl.read_pgm(pgm_p5(np.zeros((4, 4)))[:-3], "f.pgm")
    with pytest.raises(DataFormatError, match="P2 or P5"):
        dl.read_pgm(b"P6\n1 1\n255\n\x00\x00\x00", "f.pgm")


def test_olivetti_missing_gives_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="Olivetti.*download is off"):
        dl.load_olivetti(tmp_path, download=False)
