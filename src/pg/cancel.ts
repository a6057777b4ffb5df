/**
 * PostgreSQL's cancel request: a 16-byte packet on a new connection asking the server to cancel what a backend
 * is running. Needed on interrupt because closing a connection does not stop a backend that waits for a lock:
 * it notices the closed socket only once it has the lock and tries to answer — until then it stays queued on
 * production. Cancel requests need no authentication and no TLS (the backend's secret key is the credential).
 */
import { connect, type Socket } from 'node:net';

/** Send a cancel request for backend `pid` (with its `secretKey`) to `host` (a Unix socket directory or a TCP host) and `port`. Resolves when sent; never rejects. */
export function sendCancelRequest(host: string, port: number, pid: number, secretKey: number, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4); // CancelRequest code (1234 << 16 | 5678)
    packet.writeInt32BE(pid, 8);
    packet.writeInt32BE(secretKey, 12);
    let socket: Socket;
    try {
      socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    } catch {
      return resolve();
    }
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(packet));
  });
}
