import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryMembers } from '../../src/presence/members.ts';
import { dropKeysAndQuit, REDIS_URL } from '../helpers/redis.ts';
import { membersContract, redisMembersFactory } from './members.contract.ts';

membersContract('memory', { create: () => Promise.resolve(new MemoryMembers()) });

const conns: Redis[] = [];
const run = randomBytes(4).toString('hex');
membersContract(
  'redis',
  redisMembersFactory(
    () => {
      const r = new Redis(REDIS_URL);
      conns.push(r);
      return Promise.resolve(r);
    },
    (cluster) => `herald-test:${run}:${cluster}:`,
  ),
);
after(() => dropKeysAndQuit(conns, `herald-test:${run}:*`));
