"""BVV handlers and tables: refuse, identify or register, then announce the V-nummer."""

from __future__ import annotations

from datetime import UTC, date

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bvv.domain import (
    ArrivalRefused,
    biographic_key,
    biometric_key,
    check_arrival,
    more_reliable,
    v_nummer_for,
)
from chainkit.clock import timestamp
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.telemetry import tag_case
from migratieketen.v1.arrival_pb2 import ArrivalRejected, ArrivalReport
from migratieketen.v1.bvv_pb2 import IdentificationBasis, IdentityUpdated, PersonRegistered
from migratieketen.v1.common_pb2 import ClaimedIdentity, PilSourceLevel

B = IdentificationBasis

metadata = MetaData()
persons = Table(
    "persons",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("v_nummer", String(10), nullable=True, unique=True),  # set once the sequence is known
    Column("biometric_hash", String(128), nullable=True, unique=True),
    Column("biographic_key", String(300), nullable=True, index=True),
    Column("source_level", Integer, nullable=False),
    # Identity as claimed, serialised ClaimedIdentity; never logged or traced.
    Column("identity", LargeBinary, nullable=False),
    Column("registered_at", Float, nullable=False),
)
arrivals = Table(
    "arrivals",
    metadata,
    Column("partner_reference", String(200), primary_key=True),
    Column("v_nummer", String(10), nullable=False),
)
family_links = Table(
    "family_links",
    metadata,
    Column("family_group_id", String(200), primary_key=True),
    Column("v_nummer", String(10), primary_key=True),
)

# The statements run for every arrival, built once (the values are parameters; an INSERT
# or UPDATE without .values() sets the columns its parameters name).
_ARRIVAL = select(arrivals.c.v_nummer).where(
    arrivals.c.partner_reference == bindparam("key_partner_reference")
)
_ADD_ARRIVAL = insert(arrivals)
_BY_V_NUMMER = select(persons.c.v_nummer).where(persons.c.v_nummer == bindparam("key_v_nummer"))
_BY_BIOMETRICS = select(persons.c.v_nummer).where(
    persons.c.biometric_hash == bindparam("key_biometric_hash")
)
_earlier = family_links.alias("earlier")
_relative = family_links.alias("relative")
_present = family_links.alias("present")
# A registered person with these names and birth date who was linked before to someone
# already registered in this family group.
_CHILD_IN_FAMILY = (
    select(persons.c.v_nummer)
    .join(_earlier, _earlier.c.v_nummer == persons.c.v_nummer)
    .join(_relative, _relative.c.family_group_id == _earlier.c.family_group_id)
    .join(
        _present,
        and_(
            _present.c.v_nummer == _relative.c.v_nummer,
            _present.c.family_group_id == bindparam("key_family_group_id"),
        ),
    )
    .where(
        persons.c.biographic_key == bindparam("key_biographic_key"),
        _relative.c.v_nummer != persons.c.v_nummer,
    )
    .limit(1)
)
_ADD_PERSON = insert(persons)
_SET_V_NUMMER = update(persons).where(persons.c.sequence == bindparam("key_sequence"))
_SOURCE_LEVEL = select(persons.c.source_level).where(
    persons.c.v_nummer == bindparam("key_v_nummer")
)
_SET_IDENTITY = update(persons).where(persons.c.v_nummer == bindparam("key_v_nummer"))
_LINKED = select(family_links.c.v_nummer).where(
    family_links.c.family_group_id == bindparam("key_family_group_id"),
    family_links.c.v_nummer == bindparam("key_v_nummer"),
)
_ADD_LINK = insert(family_links)
_FAMILY = (
    select(family_links.c.v_nummer)
    .where(
        family_links.c.family_group_id == bindparam("key_family_group_id"),
        family_links.c.v_nummer != bindparam("key_v_nummer"),
    )
    .order_by(family_links.c.v_nummer)
)


def _report_date(report: ArrivalReport, ctx: Ctx) -> date:
    """The day the partner made its statements (ages are as of that day)."""
    if report.HasField("reported_at"):
        return report.reported_at.ToDatetime(tzinfo=UTC).date()
    return ctx.clock.now().date()


async def on_arrival(report: ArrivalReport, ctx: Ctx) -> None:
    conn = ctx.uow.conn
    already = await conn.execute(_ARRIVAL, {"key_partner_reference": report.partner_reference})
    if report.partner_reference and already.first() is not None:
        return  # the same report sent twice: one registration
    try:
        check_arrival(report, _report_date(report, ctx))
        v_nummer, basis = await _identify(conn, report)
    except ArrivalRefused as refused:
        tag_case(None, "registration", "ArrivalRejected")
        ctx.publish(
            ArrivalRejected(
                partner_reference=report.partner_reference,
                reporting_partner=report.reporting_partner,
                field=refused.field,
                reason_code=refused.code,
                reason=f"field {refused.field} {refused.reason}",
                rejected_at=timestamp(ctx.clock.now()),
            ),
            key=report.partner_reference,
        )
        return
    now = ctx.clock.now()
    identity = report.claimed_identity
    if v_nummer is None:
        v_nummer = await _register(conn, report, now.timestamp())
        source_level: int = identity.source_level
    else:
        source_level = await _update_identity(conn, v_nummer, identity, ctx)
    if report.family_group_id:
        await _link_family(conn, report.family_group_id, v_nummer)
    await conn.execute(
        _ADD_ARRIVAL, {"partner_reference": report.partner_reference, "v_nummer": v_nummer}
    )
    tag_case(v_nummer, "registration")
    family = (
        await _family_of(conn, report.family_group_id, v_nummer) if report.family_group_id else []
    )
    ctx.publish(
        PersonRegistered(
            v_nummer=v_nummer,
            identified_existing=basis != B.IDENTIFICATION_BASIS_UNSPECIFIED,
            registered_at=timestamp(now),
            arrival=report,
            family_v_nummers=family,
            identified_by=basis,
            source_level=PilSourceLevel.ValueType(source_level),
        ),
        key=v_nummer,
    )


async def _identify(
    conn: AsyncConnection, report: ArrivalReport
) -> tuple[str | None, IdentificationBasis.ValueType]:
    """The person this report is about, if the BVV knows them: one person, one V-nummer."""
    if report.v_nummer:
        known = (
            await conn.execute(_BY_V_NUMMER, {"key_v_nummer": report.v_nummer})
        ).scalar_one_or_none()
        if known is None:
            raise ArrivalRefused("v_nummer", "unknown_v_nummer", "names no registered person")
        return known, B.IDENTIFICATION_BASIS_V_NUMMER
    key = biometric_key(report)
    if key is not None:
        known = (
            await conn.execute(_BY_BIOMETRICS, {"key_biometric_hash": key})
        ).scalar_one_or_none()
        if known is not None:
            return known, B.IDENTIFICATION_BASIS_BIOMETRICS
        return None, B.IDENTIFICATION_BASIS_UNSPECIFIED
    child = biographic_key(report.claimed_identity)
    if child is not None and report.family_group_id:
        known = await _child_linked_to_family(conn, child, report.family_group_id)
        if known is not None:
            return known, B.IDENTIFICATION_BASIS_BIOGRAPHIC_AND_FAMILY
    return None, B.IDENTIFICATION_BASIS_UNSPECIFIED


async def _child_linked_to_family(
    conn: AsyncConnection, child_key: str, family_group_id: str
) -> str | None:
    """A registered person with these names and birth date who was linked before to
    someone already registered in this arrival's family group."""
    row = await conn.execute(
        _CHILD_IN_FAMILY,
        {"key_biographic_key": child_key, "key_family_group_id": family_group_id},
    )
    return row.scalar_one_or_none()


async def _register(conn: AsyncConnection, report: ArrivalReport, at: float) -> str:
    identity = report.claimed_identity
    result = await conn.execute(
        _ADD_PERSON,
        {
            "biometric_hash": biometric_key(report),
            "biographic_key": biographic_key(identity),
            "source_level": identity.source_level,
            "identity": identity.SerializeToString(),
            "registered_at": at,
        },
    )
    inserted = result.inserted_primary_key
    assert inserted is not None
    v_nummer = v_nummer_for(inserted[0])
    await conn.execute(_SET_V_NUMMER, {"key_sequence": inserted[0], "v_nummer": v_nummer})
    return v_nummer


async def _update_identity(
    conn: AsyncConnection, v_nummer: str, identity: ClaimedIdentity, ctx: Ctx
) -> int:
    """Replace the held identity only by data from a more reliable PIL source."""
    held = (await conn.execute(_SOURCE_LEVEL, {"key_v_nummer": v_nummer})).scalar_one()
    if not more_reliable(identity.source_level, held):
        return int(held)
    await conn.execute(
        _SET_IDENTITY,
        {
            "key_v_nummer": v_nummer,
            "source_level": identity.source_level,
            "identity": identity.SerializeToString(),
            "biographic_key": biographic_key(identity),
        },
    )
    ctx.publish(
        IdentityUpdated(
            v_nummer=v_nummer,
            previous_source_level=held,
            source_level=identity.source_level,
            identity=identity,
            updated_at=timestamp(ctx.clock.now()),
        ),
        key=v_nummer,
    )
    return identity.source_level


async def _link_family(conn: AsyncConnection, family_group_id: str, v_nummer: str) -> None:
    key = {"key_family_group_id": family_group_id, "key_v_nummer": v_nummer}
    linked = await conn.execute(_LINKED, key)
    if linked.first() is None:
        await conn.execute(_ADD_LINK, {"family_group_id": family_group_id, "v_nummer": v_nummer})


async def _family_of(conn: AsyncConnection, family_group_id: str, v_nummer: str) -> list[str]:
    rows = await conn.execute(
        _FAMILY, {"key_family_group_id": family_group_id, "key_v_nummer": v_nummer}
    )
    return [row.v_nummer for row in rows]


SPEC = ServiceSpec(
    name="bvv",
    stage="registration",
    metadata=metadata,
    handlers={ArrivalReport: on_arrival},
)
