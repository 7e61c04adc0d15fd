#!/usr/bin/python3
"""An SDM630-like Modbus server built on python3-pymodbus (an implementation nobody here wrote).

Serves input registers (function 04) as float32 ABCD at the SDM630 addresses, for unit ids
1..N. Unit u serves the values of expected_values(u, n) below; the C++ tests compute the same
table independently from their own copy of these formulas.

It also serves an integer copy of the energy in holding registers (function 03), for a user map:
  0x10 import, u32 CDAB (low word first), 0.01 kWh
  0x12 export, u32 CDAB, 0.0001 kWh

Usage: pymodbus_sdm630_server.py PORT UNITS {socket|rtu} [CLOCK_SPEED CLOCK_ANCHOR_MS]
  socket: Modbus TCP (MBAP); rtu: RTU frames with CRC over TCP ("RTU over TCP").
  Without the clock, n = 0 and every value is constant. With it, n is the number of 15-minute
  steps of simulated time since the anchor (CLOCK.md: simulated = start + (wall - anchor) x
  speed, the anchor being a boundary), counted to the NEAREST boundary: a read anywhere within
  7.5 simulated minutes of boundary B sees the energy of B. Energy steps by a known amount per
  boundary, so the daemon's intervals are known exactly.
Prints "ready" on stdout once listening.
"""
import asyncio
import math
import struct
import sys
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import StartAsyncTcpServer

INTERVAL_S = 900


def import_kwh(unit, n):
    return 1000.5 * unit + 0.25 * unit * n


def export_kwh(unit, n):
    return 0.0625 * unit + 0.125 * n


def expected_values(unit, n):
    # SDM630 input register address -> float value
    return {
        0x00: 230.0 + unit,        # voltage L1, V
        0x02: 231.5,               # voltage L2
        0x04: 229.25,              # voltage L3
        0x06: 5.0 + unit / 4.0,    # current L1, A
        0x08: 0.5,                 # current L2
        0x0A: 0.0,                 # current L3
        0x34: 1500.0 * unit,       # total active power, W
        0x3E: 0.875,               # power factor
        0x46: 50.0,                # frequency, Hz
        0x48: import_kwh(unit, n),  # import, kWh
        0x4A: export_kwh(unit, n),  # export, kWh
    }


def input_registers(unit, n):
    regs = [0] * 0x50
    for address, value in expected_values(unit, n).items():
        high, low = struct.unpack(">HH", struct.pack(">f", value))
        regs[address] = high
        regs[address + 1] = low
    return regs


def cdab(value):
    return [value & 0xFFFF, value >> 16]


def holding_registers(unit, n):
    regs = [0] * 0x20
    regs[0x10:0x12] = cdab(round(import_kwh(unit, n) * 100))
    regs[0x12:0x14] = cdab(round(export_kwh(unit, n) * 10000))
    return regs


class SteppedBlock(ModbusSequentialDataBlock):
    """Registers recomputed from the current step n before every read."""

    def __init__(self, make, unit, step):
        self.make = make
        self.unit = unit
        self.step = step
        super().__init__(0, make(unit, step()))

    def getValues(self, address, count=1):
        self.values = self.make(self.unit, self.step())
        return super().getValues(address, count)


async def main():
    port = int(sys.argv[1])
    units = int(sys.argv[2])
    framer = ModbusRtuFramer if sys.argv[3] == "rtu" else ModbusSocketFramer
    if len(sys.argv) > 5:
        speed = int(sys.argv[4])
        anchor_ms = int(sys.argv[5])

        def step():
            simulated_s = (time.time() * 1000.0 - anchor_ms) * speed / 1000.0
            return math.floor((simulated_s + INTERVAL_S / 2) / INTERVAL_S)
    else:

        def step():
            return 0

    slaves = {
        unit: ModbusSlaveContext(ir=SteppedBlock(input_registers, unit, step),
                                 hr=SteppedBlock(holding_registers, unit, step), zero_mode=True)
        for unit in range(1, units + 1)
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    server = await StartAsyncTcpServer(context, address=("127.0.0.1", port), framer=framer, defer_start=True)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
