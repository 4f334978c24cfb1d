// The OpenID Provider the integration tests sign in against: the certified oidc-provider package,
// configured for the two ways a CloudBridge node signs in (the device authorization grant for
// people, client credentials for services), with resource indicators so that access tokens for the
// relay are JWTs (ES256) the relay can verify against this provider's JWKS. Every account is in
// tenant "acme"; the service client "svc-beta" is in tenant "beta". The "groups" claim lists the
// identity provider's groups, which access policies name as idp:GROUP: alice is in "engineering",
// the service client "svc-acme" in "ops".
//
// Usage: PORT=9123 node provider.mjs      (prints "listening" when ready)
import Provider from 'oidc-provider';
import { generateKeyPair } from 'crypto';
import { promisify } from 'util';

const port = Number(process.env.PORT || 9123);
const issuer = `http://127.0.0.1:${port}`;
const RELAY = 'urn:cloudbridge:relay';

const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-es256', alg: 'ES256', use: 'sig' };

const configuration = {
  jwks: { keys: [jwk] },
  clients: [
    {
      client_id: 'cloudbridge-node',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: 'ES256',
    },
    {
      client_id: 'svc-acme',
      client_secret: 'svc-acme-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: 'ES256',
    },
    {
      client_id: 'svc-beta',
      client_secret: 'svc-beta-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: 'ES256',
    },
  ],
  features: {
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RELAY,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid',
        audience: RELAY,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  // The tenant rides in the access token; the relay reads it from the configured claim.
  async extraTokenClaims(ctx, token) {
    const client = token.clientId || (token.client && token.client.clientId);
    const groups = { alice: ['engineering'], 'svc-acme': ['ops'] };
    return { tenant: client === 'svc-beta' ? 'beta' : 'acme', groups: groups[token.accountId || client] || [] };
  },
  loadExistingGrant: async (ctx) => {
    // Consent once per account and client, as a person's browser session would keep it.
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
  ttl: { DeviceCode: 120 },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log('listening'));
