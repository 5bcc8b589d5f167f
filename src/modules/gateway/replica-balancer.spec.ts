import { ReplicaBalancer } from './replica-balancer';

const same = (address: string) => address;

describe('ReplicaBalancer', () => {
  it('takes replicas with equal load in turn', () => {
    const balancer = new ReplicaBalancer(1000);
    const firsts = Array.from({ length: 6 }, () => balancer.order(['a', 'b', 'c'], same)[0]);
    expect(firsts).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('puts the replica with the fewest requests in flight first, and counts each request ended once', () => {
    const balancer = new ReplicaBalancer(1000);
    const endA1 = balancer.attempt('a');
    balancer.attempt('a');
    balancer.attempt('b');
    expect(balancer.order(['a', 'b', 'c'], same)).toEqual(['c', 'b', 'a']);
    endA1();
    endA1();
    expect(balancer.inFlight('a')).toBe(1);
  });

  it('puts an unreachable replica last until its cool-down is over', () => {
    let now = 0;
    const balancer = new ReplicaBalancer(30_000, () => now);
    balancer.unreachable('a');
    for (let n = 0; n < 3; n++) expect(balancer.order(['a', 'b'], same).at(-1)).toBe('a');
    now = 30_001;
    expect([balancer.order(['a', 'b'], same)[0], balancer.order(['a', 'b'], same)[0]].sort()).toEqual(['a', 'b']);
  });
});
