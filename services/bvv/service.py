"""BVV handlers and tables: register or identify, then announce the V-nummer."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, insert, select

from bvv.domain import biometric_key, check_arrival, v_nummer_for
from chainkit.clock import timestamp
from chainkit.runtime import Ctx, ServiceSpec
from chainkit.telemetry import tag_case
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.bvv_pb2 import PersonRegistered

metadata = MetaData()
persons = Table(
    "persons",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("v_nummer", String(10), nullable=True, unique=True),  # set once the sequence is known
    Column("biometric_hash", String(128), nullable=True, unique=True),
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


async def on_arrival(report: ArrivalReport, ctx: Ctx) -> None:
    check_arrival(report)
    conn = ctx.uow.conn
    already = await conn.execute(
        select(arrivals.c.v_nummer).where(arrivals.c.partner_reference == report.partner_reference)
    )
    if already.first() is not None:
        return  # the same report sent twice: one registration
    now = ctx.clock.now()
    key = biometric_key(report)
    known = None
    if key is not None:
        known = (
            await conn.execute(select(persons.c.v_nummer).where(persons.c.biometric_hash == key))
        ).scalar_one_or_none()
    if known is None:
        result = await conn.execute(
            insert(persons).values(
                biometric_hash=key,
                source_level=report.claimed_identity.source_level,
                identity=report.claimed_identity.SerializeToString(),
                registered_at=now.timestamp(),
            )
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        sequence = inserted[0]
        v_nummer = v_nummer_for(sequence)
        await conn.execute(
            persons.update().where(persons.c.sequence == sequence).values(v_nummer=v_nummer)
        )
    else:
        v_nummer = known
    await conn.execute(
        insert(arrivals).values(partner_reference=report.partner_reference, v_nummer=v_nummer)
    )
    tag_case(v_nummer, "registration")
    ctx.publish(
        PersonRegistered(
            v_nummer=v_nummer,
            identified_existing=known is not None,
            registered_at=timestamp(now),
            arrival=report,
        ),
        key=v_nummer,
    )


SPEC = ServiceSpec(
    name="bvv",
    stage="registration",
    metadata=metadata,
    handlers={ArrivalReport: on_arrival},
)
