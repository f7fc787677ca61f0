"""``vaelab serve RUN``: the latent-explorer page and the JSON API of a trained run (needs vaelab[serve])."""

from __future__ import annotations

import argparse
import ipaddress

from vaelab.cli.options import add_device, add_run, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    from vaelab.serving.limits import Limits

    d = Limits()
    p = sub.add_parser("serve", help="web page to explore a run's latent space, and a JSON API (needs vaelab[serve])")
    add_run(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    add_device(p)
    p.add_argument("--max-batch", type=positive_int, default=d.max_batch,
                   help=f"latent vectors / images / samples per request (default {d.max_batch})")
    p.add_argument("--max-body-bytes", type=positive_int, default=d.max_body_bytes,
                   help=f"request body size limit (default {d.max_body_bytes})")
    p.add_argument("--max-upload-pixels", type=positive_int, default=d.max_upload_pixels,
                   help=f"pixels (width x height) of an uploaded image (default {d.max_upload_pixels})")
    p.add_argument("-k", "--k", "--score-k", dest="score_k", type=positive_int, default=d.default_k,
                   help=f"importance samples of an anomaly score (default {d.default_k})")
    p.add_argument("--max-k", type=positive_int, default=d.max_k,
                   help=f"largest k a request may ask (default {d.max_k})")
    p.add_argument("--background", metavar="RUN", help="a background run (vaelab train --background-of RUN), or "
                   "'pixels' (independent per-pixel histograms of the run's training split; a run directory named "
                   "pixels: ./pixels): offers the ratio anomaly score")
    p.add_argument("--map-points", type=positive_int, default=d.map_points,
                   help=f"test examples on the latent map (default {d.map_points})")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.errors import ConfigError
    from vaelab.serving.limits import Limits, require_fastapi

    require_fastapi()  # one line naming vaelab[serve] when the extra is missing
    from vaelab.serving.app import create_app
    from vaelab.serving.server import bind, serve, url_of
    from vaelab.serving.service import NotAvailable
    from vaelab.runs import resolve_device

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0 to 65535, got {args.port}")
    limits = Limits(max_batch=args.max_batch, max_body_bytes=args.max_body_bytes,
                    max_upload_pixels=args.max_upload_pixels, default_k=args.score_k,
                    max_k=max(args.max_k, args.score_k), map_points=args.map_points)
    app = create_app(args.run, limits, device=str(resolve_device(args.device)), background=args.background)
    service = app.state.service
    try:
        m = service.latent_map()  # computed before listening, so the first page load is fast
        print(f"latent map: {m.coords.shape[0]} test examples of {m.dataset} ({m.method})")
    except NotAvailable as exc:
        print(f"vaelab: warning: {exc}; the page works without the map")
    sock = bind(args.host, args.port)
    if not _is_loopback(args.host):
        print(f"vaelab: warning: listening on {args.host}, reachable from other machines; the API has no "
              "authentication")
    print(f"serving {args.run} at {url_of(sock)}/  (API schema: {url_of(sock)}/openapi.json; Ctrl-C stops)",
          flush=True)
    try:
        serve(app, sock, log_level="warning" if args.quiet else "info")
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then passes the signal on
        pass
    print("vaelab serve: stopped")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
