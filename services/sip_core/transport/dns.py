"""Finding a carrier gateway given by name: RFC 3263 essentials, asynchronous and cached.

A :class:`Peer` whose host is a domain name is resolved before anything is sent to it:

* with a port (the usual case: a gateway is configured as ``host:port``), the name's A and AAAA
  records, IPv4 first (RFC 3263 §4.2: no SRV lookup when a port is given);
* without one (port ``0``), the SRV records ``_sip._udp``, ``_sip._tcp`` or ``_sips._tcp`` of the
  name for the peer's transport, ordered by priority and, within a priority, by a weighted random
  draw (RFC 2782), each target resolved to its addresses; a name without SRV records falls back
  to its A/AAAA records on 5060 (5061 for TLS) (§4.2).

NAPTR (§4.1) is skipped: the transport is configured per gateway, never discovered.

Results are cached for their DNS TTL (bounded by ``max_ttl``, at least ``min_ttl``) and failures
for ``negative_ttl``; concurrent lookups of one name share one query. The cache is bounded
(oldest entries go first). :meth:`SipResolver.cached` answers from the cache without awaiting, so
the transports resolve synchronously on the hot path and only a cache miss costs a task.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from functools import lru_cache

import dns.asyncresolver
import dns.exception
import dns.resolver
import structlog
from prometheus_client import Counter, Histogram

from services.sip_core.sip import Peer

__all__ = ["SipResolver", "is_address"]

_log = structlog.get_logger(__name__)

DNS_LOOKUPS = Counter(
    "tandem_sip_dns_lookups_total", "Carrier name resolutions by result", ["result"]
)
DNS_SECONDS = Histogram(
    "tandem_sip_dns_seconds",
    "Time to resolve a carrier name (cache misses only)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
_HITS = DNS_LOOKUPS.labels("cached")

_SRV_PREFIX = {"UDP": "_sip._udp.", "TCP": "_sip._tcp.", "TLS": "_sips._tcp."}
_DEFAULT_PORT = {"UDP": 5060, "TCP": 5060, "TLS": 5061}

Addresses = list[tuple[str, int]]


@lru_cache(maxsize=4096)
def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address literal (no lookup needed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class SipResolver:
    """Resolves peers to ``(address, port)`` lists to try in order, with a TTL cache."""

    def __init__(
        self,
        nameservers: list[str] | None = None,
        *,
        port: int = 53,
        timeout: float = 2.0,
        min_ttl: float = 5.0,
        max_ttl: float = 3600.0,
        negative_ttl: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = list(nameservers)
        else:  # the system's (/etc/resolv.conf)
            self._resolver = dns.asyncresolver.Resolver()
        self._resolver.port = port
        self.timeout = timeout
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._cache: dict[tuple[str, str, int], tuple[float, Addresses]] = {}
        self._inflight: dict[tuple[str, str, int], asyncio.Future[Addresses]] = {}

    # -- the cache -------------------------------------------------------------------------

    def cached(self, peer: Peer) -> Addresses | None:
        """The addresses of ``peer`` if known now (an empty list: known not to resolve)."""
        if is_address(peer.host):
            return [(peer.host.strip("[]"), peer.port or _DEFAULT_PORT.get(peer.transport, 5060))]
        key = (peer.transport, peer.host.lower(), peer.port)
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, addresses = entry
        if expires < time.monotonic():
            del self._cache[key]
            return None
        _HITS.inc()
        return addresses

    def _store(self, key: tuple[str, str, int], addresses: Addresses, ttl: float) -> None:
        if len(self._cache) >= self.max_entries:
            for old in list(self._cache)[: max(1, self.max_entries // 10)]:
                del self._cache[old]
        self._cache[key] = (time.monotonic() + ttl, addresses)

    # -- resolving ---------------------------------------------------------------------------

    async def resolve(self, peer: Peer) -> Addresses:
        """The addresses to try for ``peer``, best first; ``[]`` when the name does not resolve.

        Never raises for DNS trouble (timeouts, SERVFAIL, NXDOMAIN all give ``[]``).
        """
        known = self.cached(peer)
        if known is not None:
            return known
        key = (peer.transport, peer.host.lower(), peer.port)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Addresses] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        started = time.monotonic()
        try:
            addresses, ttl, result = await self._lookup(peer)
        except asyncio.CancelledError:
            future.set_result([])  # waiters go on (and fail over); nothing is cached
            raise
        except Exception:  # a resolver bug must not leave waiters hanging
            _log.exception("resolving a carrier name failed", host=peer.host)
            addresses, ttl, result = [], self.negative_ttl, "error"
        finally:
            del self._inflight[key]
        DNS_SECONDS.observe(time.monotonic() - started)
        DNS_LOOKUPS.labels(result).inc()
        self._store(key, addresses, ttl)
        if not addresses:
            _log.warning("carrier name does not resolve", host=peer.host, transport=peer.transport)
        future.set_result(addresses)
        return addresses

    async def _lookup(self, peer: Peer) -> tuple[Addresses, float, str]:
        host = peer.host.rstrip(".").lower()
        if peer.port:
            addresses, ttl, result = await self._addresses(host)
            return [(address, peer.port) for address in addresses], ttl, result
        srv, srv_ttl, result = await self._srv(_SRV_PREFIX.get(peer.transport, "_sip._udp.") + host)
        if result == "timeout":
            return [], self.negative_ttl, result
        if not srv:  # no SRV records: the name itself on the default port (§4.2)
            addresses, ttl, result = await self._addresses(host)
            port = _DEFAULT_PORT.get(peer.transport, 5060)
            return [(address, port) for address in addresses], ttl, result
        found: Addresses = []
        ttl = srv_ttl
        for target, port in srv:
            addresses, target_ttl, _ = await self._addresses(target)
            if addresses:
                ttl = min(ttl, target_ttl)
            found.extend((address, port) for address in addresses)
        return found, (ttl if found else self.negative_ttl), "srv" if found else "nxdomain"

    async def _query(self, name: str, rdtype: str) -> tuple[list[object], float, str]:
        try:
            answer = await self._resolver.resolve(name, rdtype, lifetime=self.timeout, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], self.negative_ttl, "nxdomain"
        except dns.exception.Timeout:
            return [], self.negative_ttl, "timeout"
        except dns.exception.DNSException as err:
            _log.info("DNS query failed", name=name, rdtype=rdtype, error=str(err))
            return [], self.negative_ttl, "error"
        rrset = answer.rrset
        if rrset is None:
            return [], self.negative_ttl, "nxdomain"
        ttl = min(max(float(rrset.ttl), self.min_ttl), self.max_ttl)
        return list(rrset), ttl, "answer"

    async def _addresses(self, host: str) -> tuple[list[str], float, str]:
        if is_address(host):
            return [host.strip("[]")], self.max_ttl, "answer"
        (v4, ttl4, r4), (v6, ttl6, r6) = await asyncio.gather(
            self._query(host, "A"), self._query(host, "AAAA")
        )
        addresses = [str(r) for r in v4] + [str(r) for r in v6]
        if not addresses:
            result = r4 if r4 != "nxdomain" else r6
            return [], self.negative_ttl, result
        ttl = min(ttl for ttl, found in ((ttl4, v4), (ttl6, v6)) if found)
        return addresses, ttl, "answer"

    async def _srv(self, name: str) -> tuple[list[tuple[str, int]], float, str]:
        records, ttl, result = await self._query(name, "SRV")
        return _srv_order(records), ttl, result


def _srv_order(records: list[object]) -> list[tuple[str, int]]:
    """SRV targets in the order RFC 2782 says to try them: by priority, weighted within one."""
    by_priority: dict[int, list[tuple[int, str, int]]] = {}
    for record in records:
        target = str(getattr(record, "target", "")).rstrip(".")
        if not target:  # "." : the service is decidedly not available here
            continue
        priority = int(getattr(record, "priority", 0))
        weight = int(getattr(record, "weight", 0))
        port = int(getattr(record, "port", 0))
        by_priority.setdefault(priority, []).append((weight, target, port))
    ordered: list[tuple[str, int]] = []
    for priority in sorted(by_priority):
        group = by_priority[priority]
        while group:
            total = sum(weight for weight, _, _ in group)
            pick = random.uniform(0, total) if total else 0  # noqa: S311 - load spreading
            running = 0
            chosen = len(group) - 1
            for index, entry in enumerate(group):
                running += entry[0]
                if running >= pick:
                    chosen = index
                    break
            _, target, port = group.pop(chosen)
            ordered.append((target, port))
    return ordered
