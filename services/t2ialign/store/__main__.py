"""Put model folders into an object store, for services that read `store:<prefix>` (a cluster's, say).

    python -m t2ialign.store upload weights/toy/clip models/toy/clip --store "s3://t2ialign?endpoint=host:9000"
    python -m t2ialign.store ls models/ --store ...

S3 credentials come from T2IALIGN_S3_ACCESS_KEY and T2IALIGN_S3_SECRET_KEY, as for the services. An upload
verifies the folder's manifest first and writes it last (store/folders.py), so a reader sees all or nothing.
"""

from __future__ import annotations

import argparse
import sys

from t2ialign.store import open_store, upload_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t2ialign.store", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload", help="upload a checkpoint folder (with manifest.json) under a prefix")
    up.add_argument("folder")
    up.add_argument("prefix", help="e.g. models/toy/clip; the services then read store:<prefix>")
    ls = sub.add_parser("ls", help="list keys under a prefix")
    ls.add_argument("prefix", nargs="?", default="")
    for p in (up, ls):
        p.add_argument("--store", required=True, help="a path, file:///path or s3://bucket?endpoint=host:port")
    args = parser.parse_args(argv)
    try:
        store = open_store(args.store)
        if args.command == "upload":
            keys = upload_folder(store, args.folder, args.prefix)
            print(f"uploaded {args.folder} -> store:{args.prefix.rstrip('/')} ({len(keys)} files)")
        else:
            for key in store.list(args.prefix):
                print(key)
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"python -m t2ialign.store: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
