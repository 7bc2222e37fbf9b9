"""Vendors tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import Actor, Cursor, JsonObject, RequestId
from worktrack.models.vendors import ExtractorVersion, Vendor, VendorList, VendorName, VendorStatus
from worktrack.services import vendors
from worktrack.tools.common import Toolset, app_of

tools = Toolset("vendors")

Name = Annotated[VendorName, Field(description="vendor name, any case")]
Metadata = Annotated[
    JsonObject,
    Field(
        description="format_support* {excel,csv,pdf,ocr: bool*, more flags}, "
        "test_results* {passing,total,skipped: int>=0*}, extractor_version, "
        "manifest_compliant: bool"
    ),
]


@tools.write()
async def create_vendor(
    ctx: Context,
    name: Annotated[VendorName, Field(description="unique ignoring case")],
    extractor_version: ExtractorVersion,
    metadata: Metadata,
    status: VendorStatus = "operational",
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Vendor:
    """Register a vendor with its extractor version, format support and test results."""
    return await vendors.create_vendor(
        app_of(ctx),
        name=name,
        extractor_version=extractor_version,
        metadata=metadata,
        status=status,
        created_by=created_by,
        request_id=request_id,
    )


@tools.read
async def query_vendor_status(ctx: Context, name: Name) -> Vendor:
    """One vendor by name."""
    return await vendors.query_vendor_status(app_of(ctx), name=name)


@tools.write(destructive=True)
async def update_vendor_status(
    ctx: Context,
    name: Name,
    version: Annotated[int, Field(ge=1, description="the version you last read")],
    status: VendorStatus | None = None,
    extractor_version: Annotated[ExtractorVersion, Field(description="also sets the metadata's")]
    | None = None,
    metadata: Annotated[
        Metadata, Field(description="replaces the stored one; keys as in create_vendor")
    ]
    | None = None,
    updated_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Vendor:
    """Change a vendor's status, extractor version or metadata (give at least one)."""
    return await vendors.update_vendor_status(
        app_of(ctx),
        name=name,
        version=version,
        status=status,
        extractor_version=extractor_version,
        metadata=metadata,
        updated_by=updated_by,
        request_id=request_id,
    )


@tools.read
async def list_vendors(
    ctx: Context,
    status: VendorStatus | None = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 40,
    cursor: Cursor | None = None,
) -> VendorList:
    """Vendors by name, a page at a time, with counts."""
    return await vendors.list_vendors(app_of(ctx), status=status, limit=limit, cursor=cursor)
