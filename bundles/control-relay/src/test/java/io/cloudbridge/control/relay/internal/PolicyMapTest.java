package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.policy.PolicyException;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A tenant's access policy through the real control service: the maps each node is sent (only the
 * peers it may reach or be reached by), the filter for its addresses, and how both follow a new
 * policy, a new node, a node given a tag, and a policy removed.
 */
class PolicyMapTest {
    static final String POLICY = """
            groups:
              group:app: [node:app-1, node:app-2]
            tags:
              tag:db: []
            rules:
              - name: app to database
                action: accept
                src: [group:app]
                dst: [tag:db]
                proto: tcp
                ports: [5432]
            tests:
              - src: app-1
                accept: [tag:db:5432/tcp]
                deny: [tag:db:22/tcp]
            """;

    private RelayFixture relay;
    private ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        relay = new RelayFixture();
        channel = relay.channel();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        relay.close();
    }

    private TenantPolicies policies() {
        return relay.relay.service().policies();
    }

    /** The updates up to and including the next filter: a policy change ends each node's share with its filter. */
    private static List<NetworkMapUpdate> untilFilter(MapWatch w) throws InterruptedException {
        List<NetworkMapUpdate> out = new ArrayList<>();
        NetworkMapUpdate u;
        do {
            u = w.next();
            out.add(u);
        } while (!u.hasFilter());
        return out;
    }

    private static Set<String> hostnames(List<Peer> peers) {
        return peers.stream().map(Peer::getHostname).collect(Collectors.toSet());
    }

    private static Set<String> removed(List<NetworkMapUpdate> updates) {
        return updates.stream().filter(NetworkMapUpdate::hasRemoved).map(u -> u.getRemoved().getNodeId()).collect(Collectors.toSet());
    }

    private static Set<String> upserted(List<NetworkMapUpdate> updates) {
        return updates.stream().filter(NetworkMapUpdate::hasUpsert).map(u -> u.getUpsert().getHostname()).collect(Collectors.toSet());
    }

    @Test
    void eachNodeSeesOnlyWhomItMayReachAndGetsItsFilter() throws Exception {
        String plain = relay.preAuthKey("acme", true);
        String tagged = relay.relay.state().createPreAuthKey("acme", true, Instant.now().plusSeconds(3600), Instant.now(), List.of("db"));
        RegisterResponse db = RelayFixture.register(channel, tagged, RelayFixture.randomKey(), "db-1");
        RegisterResponse app = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "app-1");
        RegisterResponse lonely = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "lonely");
        MapWatch dbMap = MapWatch.open(channel, db.getToken().getJwt());
        MapWatch appMap = MapWatch.open(channel, app.getToken().getJwt());
        MapWatch lonelyMap = MapWatch.open(channel, lonely.getToken().getJwt());
        // No policy: everyone sees everyone, and the filter lets everything in.
        NetworkMapUpdate first = lonelyMap.next();
        assertEquals(Set.of("db-1", "app-1"), hostnames(first.getFull().getPeersList()));
        assertEquals(0, first.getFilter().getPolicyVersion());
        dbMap.next();
        appMap.next();

        PolicyVersion v1 = policies().set("acme", POLICY, "tester");
        assertEquals(1, v1.version());
        // The database's filter: the app rule, from app-1's addresses to its own, TCP 5432.
        List<NetworkMapUpdate> toDb = untilFilter(dbMap);
        assertEquals(Set.of(lonely.getNodeId()), removed(toDb));
        io.cloudbridge.control.v1.PacketFilter dbFilter = toDb.get(toDb.size() - 1).getFilter();
        assertEquals(1, dbFilter.getPolicyVersion());
        assertEquals(1, dbFilter.getRulesCount());
        io.cloudbridge.control.v1.FilterRule rule = dbFilter.getRules(0);
        assertEquals("app to database", rule.getName());
        assertTrue(rule.getAccept());
        assertEquals(Set.of(app.getIpv4Address().replaceAll("/.*", "/32"), app.getIpv6Address().replaceAll("/.*", "/128")),
                Set.copyOf(rule.getSourcesList()));
        assertEquals(List.of(6), rule.getProtocolsList());
        assertEquals(5432, rule.getPorts(0).getFirst());
        // The app server sees the database only, and lets nothing in.
        List<NetworkMapUpdate> toApp = untilFilter(appMap);
        assertEquals(Set.of(lonely.getNodeId()), removed(toApp));
        assertEquals(0, toApp.get(toApp.size() - 1).getFilter().getRulesCount());
        // The node no rule names sees nobody and is in nobody's map.
        List<NetworkMapUpdate> toLonely = untilFilter(lonelyMap);
        assertEquals(Set.of(db.getNodeId(), app.getNodeId()), removed(toLonely));

        // A second app server: the database sees it, and its filter takes its addresses in.
        RegisterResponse app2 = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "app-2");
        List<NetworkMapUpdate> newApp = untilFilter(dbMap);
        assertEquals(Set.of("app-2"), upserted(newApp));
        assertEquals(4, newApp.get(newApp.size() - 1).getFilter().getRules(0).getSourcesCount());
        assertNull(lonelyMap.updates.poll(300, TimeUnit.MILLISECONDS), "a node nobody may reach is not named to lonely");
        assertNull(appMap.updates.poll(300, TimeUnit.MILLISECONDS), "the app servers do not see each other");

        // A policy that fails its own tests is refused; the one in force stays.
        PolicyException failed = assertThrows(PolicyException.class, () -> policies().set("acme",
                POLICY.replace("ports: [5432]", "ports: [5433]"), "tester"));
        assertTrue(failed.getMessage().contains("test failed: node:app-1 should reach node:db-1 tcp/5432"), failed.getMessage());
        assertThrows(PolicyException.class, () -> policies().set("acme", "rules: [", "tester"));
        assertEquals(1, policies().current("acme").orElseThrow().version());
        assertNull(dbMap.updates.poll(300, TimeUnit.MILLISECONDS), "a refused policy sends nothing");

        // An administrator tags lonely as a database: the app servers now see it, and it gets the rule.
        assertTrue(relay.relay.service().tagNode(lonely.getNodeId(), List.of("db")));
        List<NetworkMapUpdate> tagged2 = untilFilter(lonelyMap);
        assertEquals(Set.of("app-1", "app-2"), upserted(tagged2));
        assertEquals("app to database", tagged2.get(tagged2.size() - 1).getFilter().getRules(0).getName());
        assertEquals(Set.of("lonely"), upserted(List.of(appMap.next())));

        // Why may app-1 not reach lonely on 22?
        io.cloudbridge.api.policy.Explanation why = policies().explain("acme", "app-1", "lonely", "tcp", 22).orElseThrow();
        assertFalse(why.accepted());
        assertTrue(why.steps().toString().contains("tcp/22 is not tcp to port 5432"), why.steps().toString());

        // The policy removed: everyone sees everyone again, and the filters let everything in.
        policies().delete("acme", "tester");
        List<NetworkMapUpdate> back = untilFilter(appMap);
        assertEquals(Set.of("app-2"), upserted(back));
        assertEquals(0, back.get(back.size() - 1).getFilter().getPolicyVersion());
        assertEquals(List.of(2L, 1L), policies().history("acme").stream().map(PolicyVersion::version).toList());
        assertNull(policies().history("acme").get(0).text());
    }

    @Test
    void aNodeCannotTakeAnotherNodesNameAndWithItItsRights() throws Exception {
        String plain = relay.preAuthKey("acme", true);
        String tagged = relay.relay.state().createPreAuthKey("acme", true, Instant.now().plusSeconds(3600), Instant.now(), List.of("db"));
        RegisterResponse db = RelayFixture.register(channel, tagged, RelayFixture.randomKey(), "db-1");
        RegisterResponse app = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "app-1");
        byte[] laptopKey = RelayFixture.randomKey();
        RegisterResponse laptop = RelayFixture.register(channel, plain, laptopKey, "laptop");
        policies().set("acme", POLICY, "tester");
        // A second node that calls itself app-1 is app-1-2 to the policy; the laptop renaming itself
        // app-1 stays "laptop"; neither is the gateway.
        RegisterResponse impostor = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "app-1");
        RelayFixture.registerWithToken(channel, laptop.getToken().getJwt(), laptopKey, "app-1");
        RegisterResponse gatewayName = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "relay-gateway");
        java.util.Map<String, String> names = new java.util.HashMap<>();
        relay.relay.state().nodes("acme").forEach(n -> names.put(n.id(), n.identity().name()));
        assertEquals("app-1", names.get(app.getNodeId()));
        assertEquals("app-1-2", names.get(impostor.getNodeId()));
        assertEquals("laptop", names.get(laptop.getNodeId()));
        assertEquals("relay-gateway-2", names.get(gatewayName.getNodeId()));
        io.cloudbridge.control.v1.PacketFilter dbFilter = MapWatch.open(channel, db.getToken().getJwt()).next().getFilter();
        assertEquals(Set.of(app.getIpv4Address().replaceAll("/.*", "/32"), app.getIpv6Address().replaceAll("/.*", "/128")),
                Set.copyOf(dbFilter.getRules(0).getSourcesList()), "only the first app-1 is in group:app");
        assertFalse(policies().explain("acme", "laptop", "db-1", "tcp", 5432).orElseThrow().accepted());
    }

    @Test
    void aNewWatcherGetsItsViewAndFilterInItsFirstMap() throws Exception {
        String plain = relay.preAuthKey("acme", true);
        RegisterResponse app = RelayFixture.register(channel, plain, RelayFixture.randomKey(), "app-1");
        RelayFixture.register(channel, plain, RelayFixture.randomKey(), "lonely");
        policies().set("acme", POLICY, "tester");
        NetworkMapUpdate first = MapWatch.open(channel, app.getToken().getJwt()).next();
        assertTrue(first.hasFull());
        assertEquals(0, first.getFull().getPeersCount(), "no database yet, and lonely is not for app-1");
        assertEquals(1, first.getFilter().getPolicyVersion());
        // After a restart the policy in force is read back with the map.
        relay.restart();
        channel.shutdownNow();
        channel = relay.channel();
        NetworkMapUpdate again = MapWatch.open(channel, app.getToken().getJwt()).next();
        assertEquals(1, again.getFilter().getPolicyVersion());
        assertEquals(0, again.getFull().getPeersCount());
    }
}
