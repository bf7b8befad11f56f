/** RFC 1929 credential checks that take the same time whether the user exists or the password is close. */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

export class Credentials {
  private readonly users = new Map<string, Buffer>();
  private readonly decoy = digest(Buffer.from('no such user'));

  constructor(users: ReadonlyArray<{ username: string; password: string }>) {
    for (const u of users) this.users.set(u.username, digest(Buffer.from(u.password, 'utf8')));
  }

  get required(): boolean {
    return this.users.size > 0;
  }

  /** Returns the user name when the octets match an account, else undefined. */
  check(username: Uint8Array, password: Uint8Array): string | undefined {
    const name = Buffer.from(username).toString('utf8');
    const known = this.users.get(name);
    const ok = timingSafeEqual(digest(password), known ?? this.decoy);
    return ok && known !== undefined ? name : undefined;
  }
}
