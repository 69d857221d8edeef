"""A tiny authoritative DNS server on 127.0.0.1 for tests (no Internet): dnspython builds the
answers from a zone given as ``{(name, rdtype): (ttl, [rdata text…])}``."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer(asyncio.DatagramProtocol):
    def __init__(self, records: dict[tuple[str, str], tuple[int, list[str]]]) -> None:
        self.records = {
            (name.lower().rstrip("."), rdtype): v for (name, rdtype), v in records.items()
        }
        self.queries: Counter[tuple[str, str]] = Counter()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def __aenter__(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, rdtype)] += 1
        found = self.records.get((name, rdtype))
        if found is not None:
            ttl, values = found
            response.answer.append(
                dns.rrset.from_text_list(question.name, ttl, "IN", rdtype, values)
            )
        elif not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)
