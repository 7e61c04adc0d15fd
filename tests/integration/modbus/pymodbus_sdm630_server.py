#!/usr/bin/python3
"""An SDM630-like Modbus server built on python3-pymodbus (an implementation nobody here wrote).

Serves input registers (function 04) as float32 ABCD at the SDM630 addresses, for unit ids
1..N. Unit u serves the values of expected_values(u) below; the C++ test computes the same
table independently from its own copy of these formulas.

Usage: pymodbus_sdm630_server.py PORT UNITS {socket|rtu}
  socket: Modbus TCP (MBAP); rtu: RTU frames with CRC over TCP ("RTU over TCP").
Prints "ready" on stdout once listening.
"""
import asyncio
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import StartAsyncTcpServer


def expected_values(unit):
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
        0x48: 1000.5 * unit,       # import, kWh
        0x4A: 0.0625 * unit,       # export, kWh
    }


def registers_for(unit):
    regs = [0] * 0x50
    for address, value in expected_values(unit).items():
        high, low = struct.unpack(">HH", struct.pack(">f", value))
        regs[address] = high
        regs[address + 1] = low
    return regs


async def main():
    port = int(sys.argv[1])
    units = int(sys.argv[2])
    framer = ModbusRtuFramer if sys.argv[3] == "rtu" else ModbusSocketFramer
    slaves = {
        unit: ModbusSlaveContext(ir=ModbusSequentialDataBlock(0, registers_for(unit)), zero_mode=True)
        for unit in range(1, units + 1)
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    server = await StartAsyncTcpServer(context, address=("127.0.0.1", port), framer=framer, defer_start=True)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
