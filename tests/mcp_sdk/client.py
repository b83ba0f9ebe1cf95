#!/usr/bin/env python3
"""Real-client check of the daemon's Streamable-HTTP MCP endpoint (spec 05 §1) with the
official MCP Python SDK (`pip install "mcp<2"`).

Usage: client.py <url> <bearer-token> [<reply text>]

Connects with a bearer header, initializes, lists tools, then runs one pull loop on an
attached channel: pending -> next-message -> reply {inReplyTo, text} -> pending. Prints one
JSON object on stdout describing what it saw; exits non-zero on any protocol failure. The
Rust test tests/it/mcp_sdk.rs drives it and checks the vault afterwards.
"""
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main(url, token, reply_text):
    out = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, get_sid):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server_name"] = init.serverInfo.name
            out["protocol_version"] = str(init.protocolVersion)
            out["instructions"] = init.instructions or ""
            out["session_id"] = get_sid()
            tools = await session.list_tools()
            out["tools"] = [t.name for t in tools.tools]
            out["schemas"] = {t.name: t.inputSchema for t in tools.tools}
            pending = await session.call_tool("pending", {})
            out["pending_before"] = json.loads(text_of(pending))
            claimed = await session.call_tool("next-message", {})
            out["claimed"] = json.loads(text_of(claimed))
            msg_id = out["claimed"].get("id")
            replied = await session.call_tool(
                "reply", {"inReplyTo": msg_id, "text": reply_text}
            )
            out["reply_text"] = text_of(replied)
            out["reply_is_error"] = bool(replied.isError)
            after = await session.call_tool("pending", {})
            out["pending_after"] = json.loads(text_of(after))
            unknown = await session.call_tool("react", {})
            out["unknown_tool"] = {"text": text_of(unknown), "isError": bool(unknown.isError)}
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: client.py <url> <token> [<reply text>]")
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "done"))
