/*
 * Minimal launcher for a single local Elasticsearch 8 node built from the
 * Maven Central jars (server + transport-netty4), for newsflow development.
 *
 * Usage: java -cp "<launcher classes>:<es lib>/*" EmbeddedElasticsearch <path.home> [<config dir>]
 *
 * <path.home> must contain:
 *   modules/transport-netty4/     plugin-descriptor.properties + the netty jars
 *                                 (NOT also on the JVM class path: jar hell check)
 *   modules/<other>/              optional further modules (services.sh adds newsflow-root)
 * <config dir> (default <path.home>/config) must contain:
 *   elasticsearch.yml             node settings (written by services.sh)
 *   log4j2.properties             logging config (written by services.sh)
 *
 * It deliberately skips the org.elasticsearch.bootstrap.Elasticsearch entry point
 * (CLI handshake over stdin, security manager / entitlements, native checks, the
 * "don't run as root" check) and builds the Node through its public constructor
 * Node(Environment, PluginsLoader), loading plugins from the modules directory.
 */

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

public final class EmbeddedElasticsearch {

    private EmbeddedElasticsearch() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: EmbeddedElasticsearch <path.home> [<config dir>]");
            System.exit(2);
        }
        final Path home = Paths.get(args[0]).toAbsolutePath().normalize();
        final Path configDir = args.length > 1 ? Paths.get(args[1]).toAbsolutePath().normalize() : home.resolve("config");
        if (Files.isRegularFile(configDir.resolve("elasticsearch.yml")) == false) {
            System.err.println("missing " + configDir.resolve("elasticsearch.yml"));
            System.exit(2);
        }

        final Settings input = Settings.builder().put("path.home", home.toString()).build();
        final Environment env = InternalSettingsPreparer.prepareEnvironment(input, Map.of(), configDir, () -> "newsflow-local");

        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env, false);

        final PluginsLoader pluginsLoader = PluginsLoader.createPluginsLoader(
            PluginsLoader.loadModulesBundles(env.modulesDir()),
            PluginsLoader.loadPluginsBundles(env.pluginsDir()),
            Map.of(),
            false // server runs from the class path (unnamed module): no qualified exports to wire
        );

        final Node node = new Node(env, pluginsLoader);
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "newsflow-es-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("newsflow: elasticsearch node started");
        System.out.flush();
        stopped.await();
    }
}
