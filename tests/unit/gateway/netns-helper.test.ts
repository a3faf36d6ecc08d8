/** Without what the namespace tests need, they fail saying so (tests/helpers/netns.ts). */
import { requireNetns } from '../../helpers/netns';

describe('requireNetns', () => {
  afterEach(() => jest.restoreAllMocks());

  it('fails with a message naming the reason when not root', async () => {
    jest.spyOn(process, 'getuid').mockReturnValue(1000);
    await expect(requireNetns()).rejects.toThrow(
      /^cannot create network namespaces: not root \(uid 1000\)\..*need root/,
    );
  });
});
