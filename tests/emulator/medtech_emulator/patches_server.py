"""moto server: the emulator's own speed (not a service behaviour).

At the benchmark's 1/100 time scale every 10 ms the emulator spends answering counts as a
second of modeled AWS time, and it shares the machine's cores with medtech. Three costs of
moto 5.2.5 server did not depend on the request at all:

* ``DomainDispatcherApplication.get_backend_for_host`` lists moto's package directory and
  stats each of its ~200 entries (``backends.list_of_moto_modules``) for every request;
* ``BaseResponse.call_action`` collects the response class's methods with
  ``inspect.getmembers`` (``method_names_from_class``) for every request.

  Together a fifth of the emulator's CPU during a benchmark ``up``. Both answers are now
  computed once per process (per response class), after the other patches added their
  methods.
* Each botocore model moto loads (a service's shapes on its first parsed request or first
  answer, its paginators on its first paginated list) came from a new ``Loader``, which first
  stats the ~400 service directories of botocore's data path: 50-100 ms per model, often in
  the middle of a run. One loader now serves them all and keeps what it found.
* Python's full garbage collections. The heap holds every AWS managed IAM policy and each
  service's botocore model, so each full collection paused every request for 150-300 ms
  (15-30 s of modeled time). After each full collection the survivors are frozen
  (``gc.freeze``): later ones only look at what is newer. Garbage among frozen objects that
  only a cycle collection could free stays until exit, which for a test server is fine.
"""
from __future__ import annotations

import functools
import gc


def apply() -> None:
    from moto import backends
    from moto.core import responses

    listing = backends.list_of_moto_modules

    @functools.cache
    def list_of_moto_modules() -> frozenset[str]:
        return frozenset(listing())

    backends.list_of_moto_modules = list_of_moto_modules

    members = responses.method_names_from_class

    @functools.cache
    def method_names_from_class(clazz: object) -> frozenset[str]:
        return frozenset(members(clazz))

    responses.method_names_from_class = method_names_from_class

    from botocore.loaders import create_loader
    from moto.core import utils

    loader = create_loader()

    def _load_service_model(service_name: str, model_name: str) -> dict:
        return loader.load_service_model(service_name, model_name)

    utils._load_service_model = _load_service_model

    # What the imports made lives as long as the process.
    gc.freeze()
    gc.callbacks.append(_freeze_after_full_collection)


def _freeze_after_full_collection(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
