"""`t2ialign store upload|ls`: put model folders into an object store, for services that read
`store:<prefix>` (a cluster's, say), and list what is there.

    t2ialign store upload weights/toy/clip models/toy/clip --store "s3://t2ialign?endpoint=host:9000"
    t2ialign store ls models/ --store ...

S3 credentials come from T2IALIGN_S3_ACCESS_KEY and T2IALIGN_S3_SECRET_KEY, as for the services. An upload
verifies the folder's manifest first and writes it last (store/folders.py), so a reader sees all or nothing.
"""

from __future__ import annotations

import argparse

from t2ialign.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    store = sub.add_parser("store", help="upload model folders to an object store, list its keys")
    commands = store.add_subparsers(dest="store_cmd", required=True)
    up = commands.add_parser("upload", help="upload a checkpoint folder (with manifest.json) under a prefix")
    up.add_argument("folder")
    up.add_argument("prefix", help="e.g. models/toy/clip; the services then read store:<prefix>")
    up.set_defaults(func=cmd_upload)
    ls = commands.add_parser("ls", help="list keys under a prefix")
    ls.add_argument("prefix", nargs="?", default="")
    ls.set_defaults(func=cmd_ls)
    for p in (up, ls):
        p.add_argument("--store", required=True, help="a path, file:///path or s3://bucket?endpoint=host:port")


def cmd_upload(args: argparse.Namespace) -> None:
    from t2ialign.store import open_store, upload_folder

    keys = upload_folder(open_store(args.store), args.folder, args.prefix)
    print(f"uploaded {args.folder} -> store:{args.prefix.rstrip('/')} ({len(keys)} files)")


def cmd_ls(args: argparse.Namespace) -> None:
    from t2ialign.store import open_store

    for key in open_store(args.store).list(args.prefix):
        print(key)
