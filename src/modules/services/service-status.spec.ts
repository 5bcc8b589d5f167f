import { aggregateStatus } from './service-status';

describe('aggregateStatus', () => {
  it('is deployed only when the service runs on every server', () => {
    expect(aggregateStatus(['running'])).toBe('deployed');
    expect(aggregateStatus(['running', 'running', 'running'])).toBe('deployed');
  });

  it('is online when every agent answers but some server does not run it', () => {
    expect(aggregateStatus(['stopped'])).toBe('online');
    expect(aggregateStatus(['running', 'stopped'])).toBe('online');
    expect(aggregateStatus(['stopped', 'stopped'])).toBe('online');
  });

  it('is offline as soon as one agent cannot be reached, whatever the others say', () => {
    expect(aggregateStatus(['unreachable'])).toBe('offline');
    expect(aggregateStatus(['running', 'running', 'unreachable'])).toBe('offline');
    expect(aggregateStatus(['unreachable', 'stopped'])).toBe('offline');
  });

  it('is offline for a service without servers: nothing runs it', () => {
    expect(aggregateStatus([])).toBe('offline');
  });
});
