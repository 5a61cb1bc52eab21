package dev.laminar.services.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/**
 * Stands in for Apicurio's config-index Quarkus extension, whose build-time half
 * (apicurio-common-app-components-config-index-deployment) Maven Central does not serve.
 * That extension lists the properties an administrator may change at run time through the
 * registry's admin API. The tests configure the registry once, at start-up, so the list
 * is empty: every property keeps its start-up value.
 */
public class NoDynamicConfigProperties {
    @Produces
    @Singleton
    DynamicConfigPropertyList dynamicConfigProperties() {
        return new DynamicConfigPropertyList(List.of());
    }
}
