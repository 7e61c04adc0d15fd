#!/usr/bin/env python3
# Load driver for docs/PERFORMANCE.md "Simulator": NN=2 load-profile reads (06000001) for meters
# 1..N of gateways 1..G, written back to back on one connection per gateway, one process per gateway
# (at most 4). Usage: lp_load.py G N BASE_PORT
import socket, time, sys
from multiprocessing import Pool
def frame(addr, c, data):
    a = bytes.fromhex(addr)[::-1]
    d = bytes((b+0x33)&0xff for b in data)
    body = b'\x68'+a+b'\x68'+bytes([c,len(d)])+d
    return b'\xfe'*4+body+bytes([sum(body)&0xff, 0x16])
def run(args):
    g, n, base = args
    reqs=b''.join(frame('%012d'%(g*10000+i),0x11,[1,0,0,6,0x02,0x00,0x08,0x05,0x01,0x26]) for i in range(1,n+1))
    s=socket.create_connection(('127.0.0.1',base+g-1)); s.settimeout(30)
    t=time.time(); s.sendall(reqs); got=0
    while got < 68*n:
        got+=len(s.recv(1<<20))
    return time.time()-t
if __name__=='__main__':
    gws=int(sys.argv[1]); n=int(sys.argv[2]); base=int(sys.argv[3])
    t0=time.time()
    with Pool(min(gws,4)) as p: r=p.map(run,[(g,n,base) for g in range(1,gws+1)])
    el=time.time()-t0
    print("%d load-profile reads (NN=2) on %d gateways in %.2fs = %.0f reads/s"%(gws*n,gws,el,gws*n/el))
